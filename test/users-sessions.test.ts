import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';

let ctx: TestApp;
let tenant: Tenant;
let other: Tenant;

beforeAll(async () => {
  ctx = await startTestApp();
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  other = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  await tenant.admin.post('/v1/streams', { name: 'orders' });
});
afterAll(async () => {
  await ctx?.close();
});

const PASSWORD = 'correct horse battery staple';

/** A browser-like client: keeps the session cookie and sends the CSRF token it was given. */
class Browser {
  cookie: string | undefined;
  csrf: string | undefined;

  async signIn(email: string, password = PASSWORD) {
    const response = await this.request('POST', '/v1/session', { email, password });
    if (response.status === 200) this.csrf = response.body.csrf_token;
    return response;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${ctx.url}${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** A change, with the CSRF header the console sends. */
  act(method: string, path: string, body?: unknown) {
    return this.request(method, path, body, { 'x-csrf-token': this.csrf ?? '' });
  }
}

let userCounter = 0;
async function createUser(role: 'admin' | 'viewer', owner = tenant): Promise<{ id: string; email: string }> {
  const email = `user${++userCounter}-${process.pid}@example.com`;
  const response = await owner.admin.post('/v1/users', { email, password: PASSWORD, role });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

describe('users', () => {
  it('creates, lists and deletes console users, never showing a password hash', async () => {
    const created = await createUser('viewer');
    expect(created).toMatchObject({ role: 'viewer' });
    expect(JSON.stringify(created)).not.toContain('scrypt');
    const listed = await tenant.admin.get('/v1/users');
    expect(listed.body.data.map((u: { id: string }) => u.id)).toContain(created.id);
    expect(JSON.stringify(listed.body)).not.toContain('password');
    const { rows } = await ctx.pool.query('select password_hash from users where id = $1', [created.id]);
    expect(rows[0].password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(rows[0].password_hash).not.toContain(PASSWORD);
    expect((await tenant.admin.delete(`/v1/users/${created.id}`)).status).toBe(204);
    expect((await tenant.admin.delete(`/v1/users/${created.id}`)).status).toBe(404);
  });

  it('refuses a short password, a bad role, a taken email, and another organization\'s user', async () => {
    const short = await tenant.admin.post('/v1/users', { email: 'short@example.com', password: 'short', role: 'admin' });
    expect(short.status).toBe(400);
    expect(short.body.errors[0].path).toBe('password');
    expect((await tenant.admin.post('/v1/users', { email: 'x@example.com', password: PASSWORD, role: 'owner' })).status).toBe(400);
    const user = await createUser('admin');
    const taken = await tenant.admin.post('/v1/users', { email: user.email.toUpperCase(), password: PASSWORD, role: 'admin' });
    expect(taken.status).toBe(409);
    expect((await other.admin.delete(`/v1/users/${user.id}`)).status).toBe(404);
    expect((await other.admin.get('/v1/users')).body.data).toEqual([]);
  });
});

describe('sessions', () => {
  it('signs in with an HttpOnly SameSite=Strict cookie that acts with the user role', async () => {
    const user = await createUser('admin');
    const browser = new Browser();
    const signedIn = await browser.signIn(user.email);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user).toMatchObject({ id: user.id, role: 'admin', organization_id: tenant.organizationId });
    const cookie = signedIn.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^eventflow_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect((await browser.request('GET', '/v1/session')).body.user.email).toBe(user.email);
    expect((await browser.request('GET', '/v1/streams')).body.data.map((s: { name: string }) => s.name)).toEqual(['orders']);
    const created = await browser.act('POST', '/v1/streams', { name: 'from-console' });
    expect(created.status).toBe(201);
    // Only a hash of the session token is stored.
    const { rows } = await ctx.pool.query('select token_hash from sessions');
    expect(rows.every((row) => !row.token_hash.toString('base64url').includes(cookie.split(/[=;]/)[1]))).toBe(true);
  });

  it('refuses a change without the CSRF header, and appends events only with API keys', async () => {
    const user = await createUser('admin');
    const browser = new Browser();
    await browser.signIn(user.email);
    const withoutHeader = await browser.request('POST', '/v1/streams', { name: 'csrf-less' });
    expect(withoutHeader.status).toBe(403);
    expect(withoutHeader.body.detail).toContain('x-csrf-token');
    const wrongHeader = await browser.request('POST', '/v1/streams', { name: 'csrf-less' }, { 'x-csrf-token': 'guess' });
    expect(wrongHeader.status).toBe(403);
    expect((await tenant.admin.get('/v1/streams/csrf-less')).status).toBe(404);
    const append = await browser.act('POST', '/v1/streams/orders/events', { type: 'a', payload: {} });
    expect(append.status).toBe(403);
  });

  it('lets a viewer read and refuses its every action with 403', async () => {
    const viewer = await createUser('viewer');
    const browser = new Browser();
    await browser.signIn(viewer.email);
    expect((await browser.request('GET', '/v1/consumer-groups')).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/streams', { name: 'nope' }],
      ['POST', '/v1/dead-letters/retry', {}],
      ['POST', '/v1/users', { email: 'v@example.com', password: PASSWORD, role: 'admin' }],
      ['GET', '/v1/users', undefined],
      ['GET', '/v1/api-keys', undefined],
    ] as const) {
      const response = await browser.act(method, path, body);
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body.detail).toBe('a viewer may not do this');
    }
  });

  it('answers a wrong password and an unknown email the same, and limits failed sign-ins', async () => {
    const user = await createUser('admin');
    const wrong = await new Browser().signIn(user.email, 'not the password');
    const unknown = await new Browser().signIn('nobody@example.com', 'not the password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    for (let attempt = 2; attempt <= 10; attempt++) expect((await new Browser().signIn(user.email, 'guess')).status).toBe(401);
    // The 11th try for that email is refused before the password is looked at, even the right one.
    const limited = await new Browser().signIn(user.email);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const someoneElse = await createUser('admin');
    expect((await new Browser().signIn(someoneElse.email)).status).toBe(200);
  });

  it('ends a session at sign-out and when its user is deleted', async () => {
    const user = await createUser('admin');
    const browser = new Browser();
    await browser.signIn(user.email);
    const kept = browser.cookie;
    expect((await browser.request('DELETE', '/v1/session')).status).toBe(204);
    const after = new Browser();
    after.cookie = kept;
    expect((await after.request('GET', '/v1/streams')).status).toBe(401);

    const deleted = await createUser('viewer');
    const second = new Browser();
    await second.signIn(deleted.email);
    expect((await second.request('GET', '/v1/streams')).status).toBe(200);
    await tenant.admin.delete(`/v1/users/${deleted.id}`);
    expect((await second.request('GET', '/v1/streams')).status).toBe(401);
  });

  it('keeps a console user inside its organization', async () => {
    const user = await createUser('admin', other);
    const browser = new Browser();
    await browser.signIn(user.email);
    expect((await browser.request('GET', '/v1/streams')).body.data).toEqual([]);
    expect((await browser.request('GET', '/v1/streams/orders')).status).toBe(404);
  });
});
