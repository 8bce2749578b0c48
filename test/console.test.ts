import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { Receiver } from './helpers/receiver.ts';

/*
 * The console in a real headless browser: Debian's chromium, driven by playwright-core.
 * `.ci/run` installs chromium with apt-get and checks that this file left its screenshots;
 * on a machine without it, the file is skipped with the command that installs it.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '../test-artifacts/console');
const PASSWORD = 'console password 1234';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`console.test.ts skipped: no ${CHROMIUM} (install it with: apt-get install chromium)`);

let ctx: TestApp;
let tenant: Tenant;
let browser: Browser;
let billing: Receiver;
let audit: Receiver;
const groupIds: Record<string, string> = {};

describe.skipIf(!hasChromium)('the operator console', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    ctx = await startTestApp({ workers: true });
    tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
    const api = tenant.admin;
    await api.post('/v1/streams', { name: 'orders', description: 'checkout orders' });
    await api.post('/v1/streams', { name: 'payments' });
    billing = await new Receiver().start();
    audit = await new Receiver().start();
    audit.reply = () => ({ status: 403, body: 'forbidden: unknown signing key' });
    const create = async (name: string, stream: string, receiver: Receiver, delivery: Record<string, unknown>) => {
      const response = await api.post('/v1/consumer-groups', { name, streams: [stream], webhook_url: receiver.url, start_from: 'earliest', delivery });
      expect(response.status).toBe(201);
      groupIds[name] = response.body.id;
    };
    await create('billing', 'orders', billing, { max_attempts: 100, initial_delay_ms: 100, max_delay_ms: 400 });
    await create('audit', 'payments', audit, { max_attempts: 1 });
    for (const [email, role] of [['admin@example.com', 'admin'], ['viewer@example.com', 'viewer']]) {
      expect((await api.post('/v1/users', { email, password: PASSWORD, role })).status).toBe(201);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
    await billing?.stop();
    await audit?.stop();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Signs in with the keyboard only: type, Tab, type, Enter. */
  async function signIn(page: Page, email: string, password: string): Promise<void> {
    await page.goto(`${ctx.url}/console`);
    await page.getByLabel('Email').focus();
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
  }

  it('says so in words when the password is wrong', async () => {
    const page = await browser.newPage();
    await signIn(page, 'admin@example.com', 'not the password');
    await expectText(page.getByRole('alert'), 'Wrong email or password.');
    await expect(page.getByRole('heading', { name: 'EventFlow console' }).isVisible()).resolves.toBe(true);
    await shot(page, '01-sign-in-wrong-password');
    await page.close();
  });

  it('shows lag rise while a receiver is down and fall when it is back; a dead letter appears, is retried from the page and resolves', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByRole('heading', { name: 'Consumer groups' }).waitFor();
    const lag = page.getByTestId('lag-billing-orders');
    await expectText(lag, '0');

    const port = Number(new URL(billing.url).port);
    await billing.stop();
    await tenant.admin.post('/v1/streams/orders/events/batch', { events: Array.from({ length: 5 }, (_, n) => ({ type: 'order_created', payload: { n } })) });
    await expectText(lag, '5');
    await expectText(page.getByText(/ECONNREFUSED/).first(), /ECONNREFUSED/);
    await shot(page, '02-groups-lag-while-receiver-down');
    billing = await new Receiver().start(port);
    await expectText(lag, '0');
    expect(billing.delivered().map((request) => request.json.seq).sort()).toEqual([1, 2, 3, 4, 5]);

    await tenant.admin.post('/v1/streams/payments/events', { type: 'payment_failed', payload: { amount: 1200, currency: 'EUR' } });
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const status = page.getByTestId('dead-letter-status-1');
    await expectText(status, 'pending');
    await shot(page, '03-dead-letters');
    await page.getByRole('link', { name: 'payments #1' }).click();
    await expectText(page.getByLabel('Last response'), /HTTP 403[\s\S]*forbidden: unknown signing key/);
    await expectText(page.getByLabel('Payload'), /"currency": "EUR"/);
    await shot(page, '04-dead-letter');

    audit.reply = () => ({ status: 200 });
    await page.getByRole('button', { name: 'Retry payments #1' }).click();
    await expectText(page.getByTestId('dead-letter-status'), 'resolved');
    await expectText(page.getByRole('status'), 'Retrying payments #1.');
    expect(audit.delivered()).toHaveLength(1);
    await shot(page, '05-dead-letter-resolved');
    await page.close();
  });

  it('retries the selected dead letters in bulk and discards another', async () => {
    audit.reply = () => ({ status: 403 });
    await tenant.admin.post('/v1/streams/payments/events/batch', { events: [2, 3, 4].map((n) => ({ type: 'payment_failed', payload: { n } })) });
    const page = await browser.newPage();
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByLabel('Status').selectOption('pending');
    await page.getByRole('button', { name: 'Filter' }).click();
    for (const seq of [2, 3, 4]) await expectText(page.getByTestId(`dead-letter-status-${seq}`), 'pending');
    await expect(page.getByTestId('dead-letter-status-1').count()).resolves.toBe(0);

    audit.reply = () => ({ status: 200 });
    await page.getByRole('checkbox', { name: 'Select payments #2' }).check();
    await page.getByRole('checkbox', { name: 'Select payments #3' }).check();
    await page.getByRole('button', { name: 'Retry selected' }).click();
    await page.getByRole('button', { name: 'Discard payments #4' }).click();
    await expectText(page.getByRole('status'), 'Discarded payments #4.');
    await audit.until(() => audit.delivered().filter((r) => r.json.seq !== 1).length === 2);
    // The filter shows pending ones only: all three leave the list.
    await expectText(page.getByText('No dead letters match.'), 'No dead letters match.');
    const statuses = Object.fromEntries(
      ((await tenant.admin.get(`/v1/dead-letters?group_id=${groupIds.audit}`)).body.data as { seq: number; status: string }[]).map((d) => [d.seq, d.status]),
    );
    expect(statuses).toMatchObject({ 2: expect.stringMatching(/retrying|resolved/), 3: expect.stringMatching(/retrying|resolved/), 4: 'discarded' });
    expect(audit.delivered().map((r) => r.json.seq).sort()).toEqual([1, 2, 3]);
    await page.close();
  });

  it('pauses and resumes a group, and resets an offset only after confirmation', async () => {
    const page = await browser.newPage();
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByRole('button', { name: 'Pause billing' }).click();
    await page.getByRole('button', { name: 'Resume billing' }).waitFor();
    expect((await tenant.admin.get(`/v1/consumer-groups/${groupIds.billing}`)).body.status).toBe('paused');
    await page.getByRole('button', { name: 'Resume billing' }).click();
    await page.getByRole('button', { name: 'Pause billing' }).waitFor();

    await page.getByRole('link', { name: 'billing' }).click();
    await page.getByRole('heading', { name: 'Recent delivery attempts' }).waitFor();
    await expectText(page.getByTestId('lag-orders'), '0');
    await page.getByLabel('To', { exact: true }).selectOption('earliest');
    await page.getByRole('button', { name: 'Reset offset' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset the offset?' });
    await dialog.waitFor();
    await shot(page, '06-group-reset-confirmation');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expectText(page.getByRole('status'), 'Reset cancelled.');
    const before = billing.delivered().length;
    expect((await tenant.admin.get(`/v1/consumer-groups/${groupIds.billing}`)).body.offsets[0].committed_seq).toBe(5);

    await page.getByRole('button', { name: 'Reset offset' }).click();
    await dialog.getByRole('button', { name: 'Reset' }).click();
    await expectText(page.getByRole('status'), 'Offset of billing on orders reset to earliest.');
    await billing.until(() => billing.delivered().length === before + 5);
    await expectText(page.getByTestId('lag-orders'), '0');
    await shot(page, '07-group');
    await page.close();
  });

  it('shows streams with their activity, and one event pretty-printed', async () => {
    const page = await browser.newPage();
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByRole('link', { name: 'Streams' }).click();
    await expectText(page.getByTestId('last-seq-orders'), '5');
    await expect(page.getByRole('img', { name: '5 events in the last hour' }).count()).resolves.toBe(1);
    await shot(page, '08-streams');
    await page.getByRole('link', { name: 'orders' }).click();
    await page.getByRole('cell', { name: 'order_created' }).first().waitFor();
    await page.getByRole('row', { name: /^5 order_created/ }).getByRole('link').click();
    await expectText(page.getByLabel('Payload'), /"n": 4/);
    await shot(page, '09-event');
    await page.close();
  });

  it('shows a viewer no action buttons, and the API refuses a viewer\'s actions made by hand', async () => {
    const page = await browser.newPage();
    await signIn(page, 'viewer@example.com', PASSWORD);
    await page.getByTestId('lag-billing-orders').waitFor();
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByTestId('dead-letter-status-1').waitFor();
    await page.getByRole('link', { name: 'Consumer groups' }).click();
    await page.getByTestId('lag-billing-orders').waitFor();
    expect(await page.getByRole('button').allTextContents()).toEqual(['Sign out']);
    const statuses = await page.evaluate(async (groupId) => {
      const session = (await (await fetch('/v1/session')).json()) as { csrf_token: string };
      const headers = { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token };
      const pause = await fetch(`/v1/consumer-groups/${groupId}`, { method: 'PATCH', headers, body: JSON.stringify({ status: 'paused' }) });
      const retry = await fetch('/v1/dead-letters/retry', { method: 'POST', headers, body: '{}' });
      return [pause.status, retry.status];
    }, groupIds.billing);
    expect(statuses).toEqual([403, 403]);
    await shot(page, '10-groups-as-viewer');
    await page.close();
  });

  it('passes axe-core\'s WCAG 2 A and AA checks on every page', async () => {
    // The console's CSP refuses injected scripts (as it should): the audit page bypasses it.
    const page = await browser.newPage({ bypassCSP: true });
    const violations: string[] = [];
    const audit = async (name: string) => {
      await page.addScriptTag({ path: AXE });
      // (A string, run in the page: this file is typed without the DOM library.)
      const found = await page.evaluate<string[]>(`axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.length))`);
      violations.push(...found.map((violation) => `${name}: ${violation}`));
    };
    await page.goto(`${ctx.url}/console`);
    await page.getByLabel('Email').waitFor();
    await audit('sign-in');
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByTestId('lag-billing-orders').waitFor();
    await audit('groups');
    await page.getByRole('link', { name: 'billing' }).click();
    await page.getByRole('heading', { name: 'Recent delivery attempts' }).waitFor();
    await audit('group');
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByTestId('dead-letter-status-1').waitFor();
    await audit('dead letters');
    await page.getByRole('link', { name: 'payments #1' }).click();
    await page.getByLabel('Payload').waitFor();
    await audit('dead letter');
    await page.getByRole('link', { name: 'Streams' }).click();
    await page.getByTestId('last-seq-orders').waitFor();
    await audit('streams');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('fits a narrow screen', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 740 } });
    await signIn(page, 'admin@example.com', PASSWORD);
    await page.getByTestId('lag-billing-orders').waitFor();
    // Wide tables scroll inside their own region; the page itself never scrolls sideways.
    // (A string, run in the page: this file is typed without the DOM library.)
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await shot(page, '11-groups-narrow');
    await page.close();
  });
});

/** Waits until the element's text is `expected` (the page polls every 2 s; the test timeout bounds the wait). */
async function expectText(locator: ReturnType<Page['getByTestId']>, expected: string | RegExp): Promise<void> {
  await locator.first().waitFor();
  for (;;) {
    const text = ((await locator.first().textContent()) ?? '').trim();
    if (typeof expected === 'string' ? text === expected : expected.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
