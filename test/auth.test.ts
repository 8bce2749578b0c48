import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../src/ingest/auth.ts';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';

let ctx: TestApp;
let platform: ApiClient;
let a: Tenant;
let b: Tenant;

async function createKey(tenant: Tenant, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await tenant.admin.post('/v1/api-keys', { name: 'k', ...body });
  expect(response.status).toBe(201);
  return response.body;
}

beforeAll(async () => {
  ctx = await startTestApp();
  platform = new ApiClient(ctx.url, PLATFORM_TOKEN);
  a = await createTenant(platform);
  b = await createTenant(platform);
  for (const name of ['orders', 'secret']) expect((await a.admin.post('/v1/streams', { name })).status).toBe(201);
});
afterAll(() => ctx?.close());

describe('API keys', () => {
  it('shows a key once and stores only its hash', async () => {
    const created = await createKey(a, { scopes: ['read'] });
    const listed = await a.admin.get('/v1/api-keys');
    expect(listed.status).toBe(200);
    const row = listed.body.data.find((k: { id: string }) => k.id === created.id);
    expect(row).toMatchObject({ scopes: ['read'], revoked_at: null });
    expect(JSON.stringify(listed.body)).not.toContain(created.key);
    const { rows } = await ctx.pool.query('select * from api_keys where id = $1', [created.id]);
    expect(JSON.stringify(rows)).not.toContain(created.key.slice(16));
    expect(rows[0].key_hash).toHaveLength(32);
  });

  it('answers 401 alike for no key, an unknown key and a wrong secret behind a valid prefix', async () => {
    const created = await createKey(a, { scopes: ['read'] });
    const wrongSecret = `${created.key.slice(0, 16)}${'A'.repeat(43)}`;
    const unknown = `ef_000000000000_${'A'.repeat(43)}`;
    const answers = await Promise.all(
      [undefined, 'garbage', unknown, wrongSecret].map((token) => platform.as(token).get('/v1/streams')),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ status: 401, title: answers[0]!.body.title, detail: answers[0]!.body.detail });
    }
  });

  it('enforces scopes', async () => {
    const ingest = platform.as((await createKey(a, { scopes: ['ingest'] })).key);
    const read = platform.as((await createKey(a, { scopes: ['read'] })).key);
    expect((await ingest.post('/v1/streams/orders/events', { type: 'a', payload: {} })).status).toBe(201);
    expect((await ingest.get('/v1/streams/orders/events')).status).toBe(403);
    expect((await read.get('/v1/streams/orders/events')).status).toBe(200);
    expect((await read.post('/v1/streams/orders/events', { type: 'a', payload: {} })).status).toBe(403);
    expect((await read.post('/v1/streams', { name: 'nope' })).status).toBe(403);
    expect((await read.get('/v1/api-keys')).status).toBe(403);
  });

  it('limits a key to its streams', async () => {
    const limited = platform.as((await createKey(a, { scopes: ['ingest', 'read'], streams: ['orders'] })).key);
    expect((await limited.post('/v1/streams/orders/events', { type: 'a', payload: {} })).status).toBe(201);
    expect((await limited.post('/v1/streams/secret/events', { type: 'a', payload: {} })).status).toBe(403);
    expect((await limited.get('/v1/streams/secret')).status).toBe(403);
    const listed = await limited.get('/v1/streams');
    expect(listed.body.data.map((s: { name: string }) => s.name)).toEqual(['orders']);
  });

  it('stops a revoked key, in this process at once and everywhere within the cache time', async () => {
    const created = await createKey(a, { scopes: ['read'] });
    const client = platform.as(created.key);
    expect((await client.get('/v1/streams')).status).toBe(200);
    expect((await a.admin.delete(`/v1/api-keys/${created.id}`)).status).toBe(204);
    expect((await client.get('/v1/streams')).status).toBe(401);
    expect(Authenticator.CACHE_MS).toBeLessThanOrEqual(1000);
    const listed = await a.admin.get('/v1/api-keys?limit=1000');
    expect(listed.body.data.find((k: { id: string }) => k.id === created.id).revoked_at).toEqual(expect.any(String));
  });

  it('refuses an expired key and an expiry in the past', async () => {
    const created = await createKey(a, { scopes: ['read'], expires_at: new Date(Date.now() + 60_000).toISOString() });
    await ctx.pool.query(`update api_keys set expires_at = now() - interval '1 second' where id = $1`, [created.id]);
    // A fresh process (no cached row) sees the expiry.
    const other = await startTestApp({ databaseUrl: ctx.databaseUrl });
    try {
      expect((await new ApiClient(other.url, created.key).get('/v1/streams')).status).toBe(401);
    } finally {
      await other.close();
    }
    const past = await a.admin.post('/v1/api-keys', { name: 'k', scopes: ['read'], expires_at: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.errors[0].path).toBe('expires_at');
  });

  it('never writes a key or token into the logs', async () => {
    const created = await createKey(a, { scopes: ['read'] });
    await platform.as(created.key).get('/v1/streams');
    await platform.as(`${created.key}x`).get('/v1/streams');
    const logs = ctx.logs.join('');
    expect(logs).toContain('"route":"/v1/streams"');
    for (const secret of [created.key, created.key.slice(16), a.adminKey, PLATFORM_TOKEN]) expect(logs).not.toContain(secret);
  });
});

describe('tenant isolation: another organization sees nothing', () => {
  it('answers 404 for the streams, events and keys of another organization', async () => {
    const event = await a.admin.post('/v1/streams/orders/events', { type: 'a', payload: { private: true } });
    const key = await createKey(a, { scopes: ['read'] });
    const probes: [string, () => Promise<{ status: number; body: any }>][] = [
      ['stream', () => b.admin.get('/v1/streams/orders')],
      ['events', () => b.admin.get('/v1/streams/orders/events')],
      ['event', () => b.admin.get(`/v1/streams/orders/events/${event.body.id}`)],
      ['append', () => b.admin.post('/v1/streams/orders/events', { type: 'a', payload: {} })],
      ['batch', () => b.admin.post('/v1/streams/orders/events/batch', { events: [{ type: 'a', payload: {} }] })],
      ['revoke', () => b.admin.delete(`/v1/api-keys/${key.id}`)],
    ];
    const missing = await b.admin.get('/v1/streams/does-not-exist');
    for (const [, probe] of probes) {
      const response = await probe();
      expect(response.status).toBe(404);
      expect(response.body.title).toBe(missing.body.title);
    }
    expect((await b.admin.get(`/v1/api-keys/${key.id}`)).status).toBe(404);
    expect((await b.admin.get('/v1/streams')).body.data).toEqual([]);
    expect((await b.admin.get('/v1/api-keys')).body.data.map((k: { id: string }) => k.id)).not.toContain(key.id);
    expect((await a.admin.get('/v1/streams/orders')).body.last_seq).toBe(event.body.seq);
    expect((await platform.as(key.key).get('/v1/streams')).status).toBe(200);
  });

  it('lets another organization use the same event id and stream name without conflict', async () => {
    const id = randomUUID();
    expect((await a.admin.post('/v1/streams/orders/events', { id, type: 'a', payload: { from: 'a' } })).status).toBe(201);
    expect((await b.admin.post('/v1/streams', { name: 'orders' })).status).toBe(201);
    const theirs = await b.admin.post('/v1/streams/orders/events', { id, type: 'other', payload: { from: 'b' } });
    expect(theirs.status).toBe(201);
    expect(theirs.body).toMatchObject({ seq: 1, duplicate: false });
    expect((await b.admin.get(`/v1/streams/orders/events/${id}`)).body.payload).toEqual({ from: 'b' });
    expect((await a.admin.get(`/v1/streams/orders/events/${id}`)).body.payload).toEqual({ from: 'a' });
  });
});
