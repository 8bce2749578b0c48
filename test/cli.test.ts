import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { eventually } from './helpers/eventually.ts';
import { Receiver } from './helpers/receiver.ts';

const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli.ts');

let ctx: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  ctx = await startTestApp({ workers: true });
  receiver = await new Receiver().start();
  receiver.reply = ({ json }) => ({ status: json.payload.fail ? 500 : 200 });
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a child process against the test server (`stdin`: what is piped in). */
function cli(token: string, ...args: string[]): Promise<Run> {
  return cliWithInput(token, '', ...args);
}

function cliWithInput(token: string, stdin: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { ...process.env, EVENTFLOW_URL: ctx.url, EVENTFLOW_TOKEN: token } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

async function json(token: string, ...args: string[]): Promise<any> {
  const run = await cli(token, ...args, '--json');
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

it('drives organizations, keys, streams, events, groups, offsets and dead letters', async () => {
  const org = await json(PLATFORM_TOKEN, 'orgs', 'create', '--name', 'Cli', '--slug', 'cli-co');
  const admin = org.api_key.key as string;
  const key = await json(admin, 'keys', 'create', '--name', 'producer', '--scopes', 'ingest,read', '--streams', 'orders');
  expect(key.scopes).toEqual(['ingest', 'read']);
  expect((await json(admin, 'keys', 'list')).map((k: { id: string }) => k.id)).toContain(key.id);

  expect((await json(admin, 'streams', 'create', 'orders', '--description', 'all orders')).name).toBe('orders');
  expect((await json(admin, 'streams', 'list')).map((s: { name: string }) => s.name)).toEqual(['orders']);

  const group = await json(admin, 'groups', 'create', '--name', 'billing', '--streams', 'orders', '--webhook-url', receiver.url, '--start-from', 'earliest', '--max-attempts', '1');
  expect(group.secret).toMatch(/^whsec_/);

  const sent = await json(key.key, 'events', 'send', 'orders', '--type', 'order_created', '--payload', '{"n":1}', '--context', 'trace_id=t-1');
  expect(sent).toMatchObject({ seq: 1, duplicate: false });
  await json(key.key, 'events', 'send', 'orders', '--type', 'order_paid', '--payload', '{"fail":true}');
  const listed = await json(key.key, 'events', 'list', 'orders');
  expect(listed.map((e: { type: string }) => e.type)).toEqual(['order_created', 'order_paid']);
  expect(listed[0].context).toEqual({ trace_id: 't-1' });

  const [dead] = await eventually(() => json(admin, 'dlq', 'list', '--group', group.id), (rows: any[]) => rows.length === 1);
  expect(dead).toMatchObject({ seq: 2, status: 'pending', last_status_code: 500 });
  const table = await cli(admin, 'dlq', 'list');
  expect(table.stdout).toMatch(/seq\s+status\s+attempts\s+code\s+last error/);
  expect(table.stdout).toContain('HTTP 500');

  const offsets = await eventually(() => json(admin, 'offsets', 'show', group.id), (rows: any[]) => rows[0].committed_seq === 2);
  expect(offsets).toEqual([{ stream: 'orders', committed_seq: 2, last_seq: 2, lag: 0 }]);
  const groupsTable = await cli(admin, 'groups', 'list');
  expect(groupsTable.stdout).toMatch(/billing\s+active\s+parallel\s+orders:0\s+1/);

  const dryRun = await cli(admin, 'offsets', 'reset', group.id, '--stream', 'orders', '--to', 'earliest');
  expect(dryRun.code).toBe(0);
  expect(dryRun.stdout).toContain('would reset billing on orders from committed_seq 2');
  expect((await json(admin, 'offsets', 'show', group.id))[0].committed_seq).toBe(2);

  await json(admin, 'groups', 'pause', group.id);
  const reset = await json(admin, 'offsets', 'reset', group.id, '--stream', 'orders', '--to', '1', '--yes');
  expect(reset).toEqual({ stream: 'orders', committed_seq: 1 });
  receiver.reply = () => ({ status: 200 });
  const dryRetry = await cli(admin, 'dlq', 'retry-all', '--group', group.id);
  expect(dryRetry.stdout).toContain('would retry 1 pending dead letters');
  await json(admin, 'groups', 'resume', group.id);
  expect(await json(admin, 'dlq', 'retry-all', '--group', group.id, '--yes')).toEqual({ queued: 1 });
  await eventually(() => json(admin, 'dlq', 'show', dead.id), (d) => d.status === 'resolved');

  const attempts = await json(admin, 'deliveries', 'list', group.id);
  expect(attempts.length).toBeGreaterThanOrEqual(3);
  expect((await json(admin, 'groups', 'rotate-secret', group.id)).secret).toMatch(/^whsec_/);
});

it('discards a dead letter and deletes a group', async () => {
  const org = await json(PLATFORM_TOKEN, 'orgs', 'create', '--name', 'Cli2', '--slug', 'cli-two');
  const admin = org.api_key.key as string;
  await json(admin, 'streams', 'create', 'jobs');
  receiver.reply = () => ({ status: 410 });
  const group = await json(admin, 'groups', 'create', '--name', 'g', '--streams', 'jobs', '--webhook-url', receiver.url, '--max-attempts', '1');
  await json(admin, 'events', 'send', 'jobs', '--type', 'x');
  const [dead] = await eventually(() => json(admin, 'dlq', 'list'), (rows: any[]) => rows.length === 1);
  expect((await json(admin, 'dlq', 'discard', dead.id)).status).toBe('discarded');
  expect((await json(admin, 'groups', 'delete', group.id)).deleted).toBe(true);
});

it('creates console users with the password read from stdin, and lists and deletes them', async () => {
  const org = await json(PLATFORM_TOKEN, 'orgs', 'create', '--name', 'Cli3', '--slug', 'cli-three');
  const admin = org.api_key.key as string;
  const created = await cliWithInput(admin, 'a console password\n', 'users', 'create', '--email', 'ops@cli.example', '--role', 'viewer', '--json');
  expect(created.code, created.stderr).toBe(0);
  const user = JSON.parse(created.stdout);
  expect(user).toMatchObject({ email: 'ops@cli.example', role: 'viewer' });
  const signIn = await fetch(`${ctx.url}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ops@cli.example', password: 'a console password' }),
  });
  expect(signIn.status).toBe(200);
  expect((await cli(admin, 'users', 'create', '--email', 'x@cli.example', '--role', 'owner')).code).toBe(2);
  expect((await json(admin, 'users', 'list')).map((u: { email: string }) => u.email)).toEqual(['ops@cli.example']);
  expect((await json(admin, 'users', 'delete', user.id)).deleted).toBe(user.id);
  expect(await json(admin, 'users', 'list')).toEqual([]);
});

it('exits 1 with the problem detail on API errors and 2 on usage errors', async () => {
  const missing = await cli(PLATFORM_TOKEN, 'orgs', 'create', '--name', 'x', '--slug', 'BAD SLUG');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('Request validation failed');
  expect(missing.stderr).toContain('slug');
  const unauthorized = await cli('nope', 'streams', 'list');
  expect(unauthorized.code).toBe(1);
  expect(unauthorized.stderr).toContain('missing, invalid, revoked or expired credentials');
  expect((await cli(PLATFORM_TOKEN, 'streams', 'create')).code).toBe(2);
  expect((await cli(PLATFORM_TOKEN, 'no-such-command')).code).toBe(2);
  expect((await cli(PLATFORM_TOKEN, 'offsets', 'reset', 'g', '--stream', 's', '--to', 'sometime')).code).toBe(2);
  const help = await cli(PLATFORM_TOKEN, 'dlq', '--help');
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('retry-all');
  expect((await cli(PLATFORM_TOKEN, 'groups', 'create', '--help')).stdout).toContain('--max-in-flight');
});
