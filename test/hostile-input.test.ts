import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';

let ctx: TestApp;
let tenant: Tenant;

beforeAll(async () => {
  ctx = await startTestApp({ env: { MAX_BODY_BYTES: '65536', INGEST_RATE_LIMIT: '50' } });
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  await tenant.admin.post('/v1/streams', { name: 'orders' });
});
afterAll(() => ctx?.close());

const stored = async () => (await ctx.pool.query('select count(*)::int as n from events')).rows[0].n as number;

/** A raw request, so bodies and headers can be exactly as hostile as wanted. */
function raw(body: Buffer | string, headers: Record<string, string | number> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${ctx.url}/v1/streams/orders/events`);
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile bodies answer a problem, store nothing, and the server stays up', () => {
  it.each([
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"type":"a","payload":{"s":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), 400],
    ['a number a double cannot hold', '{"type":"a","payload":{"n":12345678901234567890}}', 400],
    ['a decimal with more precision than a double', '{"type":"a","payload":{"pi":3.14159265358979323846}}', 400],
    ['a __proto__ key', '{"type":"a","payload":{"__proto__":{"admin":true}}}', 400],
    ['nesting 20,000 deep', `{"type":"a","payload":{"d":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`, 400],
    ['a truncated body', '{"type":"a","payload":{"n":1', 400],
    ['a top-level scalar', '42', 400],
  ])('%s', async (_name, body, status) => {
    const before = await stored();
    const response = await raw(body);
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body)).toMatchObject({ status, title: expect.any(String) });
    expect(await stored()).toBe(before);
    expect((await fetch(`${ctx.url}/healthz`)).status).toBe(200);
  });

  it('keeps the value of every number a double holds exactly', async () => {
    const response = await raw('{"type":"a","payload":{"a":1.0,"b":1e2,"c":0.1,"d":9007199254740991,"e":-2.5e-8}}');
    expect(response.status).toBe(201);
    const { rows } = await ctx.pool.query(`select payload::text as p from events where id = $1`, [JSON.parse(response.body).id]);
    expect(rows[0].p).toBe('{"a": 1, "b": 100, "c": 0.1, "d": 9007199254740991, "e": -0.000000025}');
  });

  it('answers 413 for a chunked body over the limit without reading it whole', async () => {
    const before = await stored();
    const response = await raw(`{"type":"a","payload":{"blob":"${'x'.repeat(200_000)}"}}`, { 'transfer-encoding': 'chunked' });
    expect(response.status).toBe(413);
    expect(await stored()).toBe(before);
  });

  it('answers 413 when Content-Length announces more than the limit', async () => {
    const response = await new Promise<string>((resolve) => {
      const url = new URL(ctx.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /v1/streams/orders/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${tenant.adminKey}\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n{"type":"a"`);
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
        if (text.includes('\r\n\r\n')) socket.destroy();
      });
      socket.on('close', () => resolve(text));
    });
    expect(response).toMatch(/^HTTP\/1.1 413/);
  });

  it('answers 431 to oversized headers', async () => {
    const response = await raw('{}', { 'x-padding': 'x'.repeat(20_000) });
    expect(response.status).toBe(431);
  });
});

describe('credentials', () => {
  it('refuses a key in the query string', async () => {
    const response = await fetch(`${ctx.url}/v1/streams?api_key=${tenant.adminKey}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toContain('Authorization header');
  });
});

describe('rate limit per organization', () => {
  it('answers 429 with Retry-After over INGEST_RATE_LIMIT, and other tenants go on', async () => {
    const other = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
    await other.admin.post('/v1/streams', { name: 'orders' });
    const events = Array.from({ length: 50 }, () => ({ type: 'a', payload: {} }));
    expect((await tenant.admin.post('/v1/streams/orders/events/batch', { events })).status).toBe(201);
    const limited = await tenant.admin.post('/v1/streams/orders/events', { type: 'a', payload: {} });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.body.title).toBe('Too many requests');
    expect((await other.admin.post('/v1/streams/orders/events', { type: 'a', payload: {} })).status).toBe(201);
  });
});
