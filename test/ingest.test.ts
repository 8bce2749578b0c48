import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { scrape } from './helpers/metrics.ts';

let ctx: TestApp;
let platform: ApiClient;
let tenant: Tenant;
let api: ApiClient;

const event = (overrides: Record<string, unknown> = {}) => ({
  type: 'order_created',
  payload: { order_id: 'o-1', total: 42.5, items: [{ sku: 'a', qty: 2 }] },
  ...overrides,
});

async function countEvents(stream: string): Promise<number> {
  const { rows } = await ctx.pool.query(
    'select count(*)::int as n from events e join event_streams s on s.id = e.stream_id where s.name = $1 and s.organization_id = $2',
    [stream, tenant.organizationId],
  );
  return rows[0].n;
}

/** The append commits and the events they wrote, from /metrics. */
async function commitMetrics(): Promise<{ commits: number; events: number }> {
  const histogram = (await scrape(ctx.url)).get('eventflow_append_commit_events')?.metrics[0];
  return { commits: Number(histogram?.count), events: Number(histogram?.sum) };
}

beforeAll(async () => {
  ctx = await startTestApp({ env: { MAX_BODY_BYTES: '65536', MAX_PAYLOAD_BYTES: '2048' } });
  platform = new ApiClient(ctx.url, PLATFORM_TOKEN);
  tenant = await createTenant(platform);
  api = tenant.admin;
  for (const name of ['orders', 'payments']) expect((await api.post('/v1/streams', { name })).status).toBe(201);
});
afterAll(() => ctx?.close());

describe('organizations and streams', () => {
  it('creates an organization with a one-time admin key', async () => {
    const response = await platform.post('/v1/organizations', { name: 'Other', slug: 'other-co' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ name: 'Other', slug: 'other-co', api_key: { scopes: ['admin'] } });
    expect(response.body.api_key.key).toMatch(/^ef_[0-9a-f]{12}_/);
    expect((await platform.post('/v1/organizations', { name: 'Again', slug: 'other-co' })).status).toBe(409);
  });

  it('refuses the platform token anywhere but organization creation', async () => {
    expect((await platform.get('/v1/streams')).status).toBe(403);
    expect((await api.post('/v1/organizations', { name: 'x', slug: 'xx' })).status).toBe(403);
  });

  it('creates a stream once and validates its name', async () => {
    const created = await api.post('/v1/streams', { name: 'audit.log-1', description: 'audit' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'audit.log-1', description: 'audit', last_seq: 0 });
    expect((await api.post('/v1/streams', { name: 'audit.log-1' })).status).toBe(409);
    const invalid = await api.post('/v1/streams', { name: 'Bad Name' });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toContain('application/problem+json');
    expect(invalid.body.errors[0].path).toBe('name');
  });

  it('lists streams with cursors and shows last_seq and event_count', async () => {
    await api.post('/v1/streams/payments/events', event());
    const first = await api.get('/v1/streams?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(1);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { name: string }[]; next_cursor: string | null } } = await api.get(
        `/v1/streams?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      names.push(...page.body.data.map((s) => s.name));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['orders', 'payments']));
    const payments = await api.get('/v1/streams/payments');
    expect(payments.body).toMatchObject({ name: 'payments', last_seq: 1, event_count: 1 });
    expect((await api.get('/v1/streams?cursor=not-a-cursor')).status).toBe(400);
  });
});

describe('appending events', () => {
  it('appends one event with the next seq and reads it back as stored', async () => {
    const id = randomUUID();
    const sent = event({ id, version: 3, source: 'checkout', occurred_at: '2026-11-25T10:00:00+01:00', context: { trace_id: 't-1', correlation_id: 'c-1' } });
    const response = await api.post('/v1/streams/orders/events', sent);
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ id, stream: 'orders', seq: expect.any(Number), duplicate: false });
    const read = await api.get(`/v1/streams/orders/events/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id,
      stream: 'orders',
      seq: response.body.seq,
      type: 'order_created',
      version: 3,
      occurred_at: '2026-11-25T09:00:00.000Z',
      source: 'checkout',
      payload: sent.payload,
      context: { trace_id: 't-1', correlation_id: 'c-1' },
    });
    const { rows } = await ctx.pool.query('select payload, metadata from events where id = $1', [id]);
    expect(rows[0].payload).toEqual(sent.payload);
    expect(rows[0].metadata).toMatchObject({
      event_type: 'order_created',
      event_version: 3,
      occurred_at: '2026-11-25T09:00:00.000Z',
      source: 'checkout',
      api_key_id: expect.any(String),
      context: { trace_id: 't-1', correlation_id: 'c-1' },
    });
  });

  it('makes a UUIDv7 id and defaults when the producer sends none', async () => {
    const response = await api.post('/v1/streams/orders/events', { type: 'ping', payload: {} });
    expect(response.status).toBe(201);
    expect(response.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const read = await api.get(`/v1/streams/orders/events/${response.body.id}`);
    expect(read.body).toMatchObject({ version: 1, source: null, context: {} });
    expect(Date.parse(read.body.occurred_at)).not.toBeNaN();
  });

  it('answers a same-content resend with 200 and the first seq, a different one with 409', async () => {
    const id = randomUUID();
    const first = await api.post('/v1/streams/orders/events', event({ id }));
    const again = await api.post('/v1/streams/orders/events', event({ id, version: 1, source: null, context: {} }));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id, stream: 'orders', seq: first.body.seq, duplicate: true });
    const changed = await api.post('/v1/streams/orders/events', event({ id, payload: { order_id: 'o-2' } }));
    expect(changed.status).toBe(409);
    const elsewhere = await api.post('/v1/streams/payments/events', event({ id }));
    expect(elsewhere.status).toBe(409);
  });

  it('compares occurred_at only when both requests carry one', async () => {
    const id = randomUUID();
    await api.post('/v1/streams/orders/events', event({ id }));
    expect((await api.post('/v1/streams/orders/events', event({ id, occurred_at: '2020-01-01T00:00:00Z' }))).status).toBe(200);
    const timed = randomUUID();
    await api.post('/v1/streams/orders/events', event({ id: timed, occurred_at: '2026-01-01T00:00:00Z' }));
    expect((await api.post('/v1/streams/orders/events', event({ id: timed, occurred_at: '2026-01-01T00:00:00.000Z' }))).status).toBe(200);
    expect((await api.post('/v1/streams/orders/events', event({ id: timed, occurred_at: '2026-01-01T00:00:01Z' }))).status).toBe(409);
    expect((await api.post('/v1/streams/orders/events', event({ id: timed }))).status).toBe(200);
  });

  it('appends a batch in request order, all or nothing', async () => {
    const before = await countEvents('orders');
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const response = await api.post('/v1/streams/orders/events/batch', { events: ids.map((id) => event({ id })) });
    expect(response.status).toBe(201);
    const seqs = response.body.events.map((e: { seq: number }) => e.seq);
    expect(response.body.events.map((e: { id: string }) => e.id)).toEqual(ids);
    expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
    expect(await countEvents('orders')).toBe(before + 3);

    const again = await api.post('/v1/streams/orders/events/batch', { events: ids.map((id) => event({ id })) });
    expect(again.status).toBe(200);
    expect(again.body.events.every((e: { duplicate: boolean }) => e.duplicate)).toBe(true);

    const mixed = await api.post('/v1/streams/orders/events/batch', { events: [event({ id: ids[0] }), event()] });
    expect(mixed.status).toBe(201);
    expect(mixed.body.events.map((e: { duplicate: boolean }) => e.duplicate)).toEqual([true, false]);
  });

  it('stores nothing from a batch with one invalid event and names it', async () => {
    const before = await countEvents('orders');
    const response = await api.post('/v1/streams/orders/events/batch', {
      events: [event(), event(), event(), event({ type: '9-not-a-type' })],
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, title: expect.any(String), detail: expect.any(String) });
    expect(response.body.errors).toEqual([{ path: 'events.3.type', message: expect.any(String) }]);
    expect(await countEvents('orders')).toBe(before);
  });

  it('refuses an id repeated inside a batch, naming the later occurrence', async () => {
    const id = randomUUID();
    const response = await api.post('/v1/streams/orders/events/batch', { events: [event({ id }), event(), event({ id })] });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ path: 'events.2.id', message: expect.any(String) }]);
  });

  it('stores nothing from a batch whose id conflicts', async () => {
    const id = randomUUID();
    await api.post('/v1/streams/orders/events', event({ id }));
    const before = await countEvents('orders');
    const response = await api.post('/v1/streams/orders/events/batch', { events: [event(), event({ id, version: 2 })] });
    expect(response.status).toBe(409);
    expect(await countEvents('orders')).toBe(before);
  });

  it('answers each of many concurrent requests on its own when they share a commit', async () => {
    const commitsBefore = await commitMetrics();
    const [same, clash] = [randomUUID(), randomUUID()];
    const requests = [
      ...Array.from({ length: 8 }, (_, n) => api.post('/v1/streams/orders/events', event({ payload: { n } }))),
      api.post('/v1/streams/orders/events', event({ id: same })),
      api.post('/v1/streams/orders/events', event({ id: same })),
      api.post('/v1/streams/orders/events', event({ id: clash, payload: { v: 1 } })),
      api.post('/v1/streams/orders/events', event({ id: clash, payload: { v: 2 } })),
      api.post('/v1/streams/orders/events/batch', { events: [event(), event({ id: clash, payload: { v: 3 } })] }),
    ];
    const answers = await Promise.all(requests);
    expect(answers.slice(0, 8).every((a) => a.status === 201)).toBe(true);
    const sameAnswers = answers.slice(8, 10);
    expect(sameAnswers.map((a) => a.status).sort()).toEqual([200, 201]);
    expect(sameAnswers[0]!.body.seq).toBe(sameAnswers[1]!.body.seq);
    const clashStatuses = answers.slice(10).map((a) => a.status);
    expect(clashStatuses.filter((s) => s === 201)).toHaveLength(1);
    expect(clashStatuses.filter((s) => s === 409)).toHaveLength(2);
    const seqs = answers.filter((a) => a.status === 201).flatMap((a) => (a.body.events ?? [a.body]).map((e: { seq: number }) => e.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    const { rows } = await ctx.pool.query('select count(*)::int as n from events where id = any($1)', [[same, clash]]);
    expect(rows[0].n).toBe(2);
    // The commits wrote 10 new events (8, `same` once, `clash` once): no duplicate or refused one counts.
    const commitsAfter = await commitMetrics();
    expect(commitsAfter.events - commitsBefore.events).toBe(10);
    expect(commitsAfter.commits - commitsBefore.commits).toBeGreaterThanOrEqual(1);
    expect(commitsAfter.commits - commitsBefore.commits).toBeLessThanOrEqual(10);
  });

  it('refuses empty and oversized batches', async () => {
    expect((await api.post('/v1/streams/orders/events/batch', { events: [] })).status).toBe(400);
    const tooMany = await api.post('/v1/streams/orders/events/batch', { events: Array.from({ length: 1001 }, () => ({ type: 'a', payload: {} })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].path).toBe('events');
  });
});

describe('bad input answers a problem and changes nothing', () => {
  const cases: [string, () => Promise<{ status: number; body: any }>, number][] = [
    ['malformed JSON', () => api.request('POST', '/v1/streams/orders/events', '{"type":'), 400],
    ['a top-level array', () => api.post('/v1/streams/orders/events', [event()]), 400],
    ['a payload that is not an object', () => api.post('/v1/streams/orders/events', event({ payload: [1, 2] })), 400],
    ['an unknown field', () => api.post('/v1/streams/orders/events', event({ extra: true })), 400],
    ['a version of 0', () => api.post('/v1/streams/orders/events', event({ version: 0 })), 400],
    ['a version over 2^31-1', () => api.post('/v1/streams/orders/events', event({ version: 2 ** 31 })), 400],
    ['a bad occurred_at', () => api.post('/v1/streams/orders/events', event({ occurred_at: 'yesterday' })), 400],
    ['a non-string context value', () => api.post('/v1/streams/orders/events', event({ context: { trace_id: 1 } })), 400],
    ['a bad id', () => api.post('/v1/streams/orders/events', event({ id: 'not-a-uuid' })), 400],
    ['a NUL character', () => api.post('/v1/streams/orders/events', event({ payload: { note: 'a\u0000b' } })), 400],
    ['a lone surrogate', () => api.request('POST', '/v1/streams/orders/events', '{"type":"a","payload":{"s":"\\ud800"}}'), 400],
    ['nesting deeper than 64', () => api.post('/v1/streams/orders/events', event({ payload: { deep: deep(80) } })), 400],
    ['a payload over MAX_PAYLOAD_BYTES', () => api.post('/v1/streams/orders/events', event({ payload: { blob: 'x'.repeat(4096) } })), 413],
    ['a body over MAX_BODY_BYTES', () => api.post('/v1/streams/orders/events', event({ payload: { blob: 'x'.repeat(70_000) } })), 413],
    ['a wrong content type', () => api.request('POST', '/v1/streams/orders/events', 'type=a', { 'content-type': 'text/plain' }), 415],
    ['an unknown stream', () => api.post('/v1/streams/nope/events', event()), 404],
    ['an unknown route', () => api.get('/v1/nothing-here'), 404],
  ];

  it.each(cases)('%s', async (_name, send, status) => {
    const before = await countEvents('orders');
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ type: expect.stringContaining('https://'), title: expect.any(String), status, detail: expect.any(String) });
    expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(await countEvents('orders')).toBe(before);
  });
});

function deep(levels: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < levels; i++) value = { nested: value };
  return value;
}

describe('reading events', () => {
  it('filters by after_seq, type and occurred_at, in seq order, with cursors', async () => {
    expect((await api.post('/v1/streams', { name: 'reads' })).status).toBe(201);
    const events = [
      { type: 'a', occurred_at: '2026-01-01T00:00:00Z', payload: { n: 1 } },
      { type: 'b', occurred_at: '2026-01-02T00:00:00Z', payload: { n: 2 } },
      { type: 'a', occurred_at: '2026-01-03T00:00:00Z', payload: { n: 3 } },
      { type: 'a', occurred_at: '2026-01-04T00:00:00Z', payload: { n: 4 } },
    ];
    expect((await api.post('/v1/streams/reads/events/batch', { events })).status).toBe(201);
    const numbers = (response: { body: { data: { payload: { n: number } }[] } }) => response.body.data.map((e) => e.payload.n);
    expect(numbers(await api.get('/v1/streams/reads/events'))).toEqual([1, 2, 3, 4]);
    expect(numbers(await api.get('/v1/streams/reads/events?after_seq=2'))).toEqual([3, 4]);
    expect(numbers(await api.get('/v1/streams/reads/events?type=a'))).toEqual([1, 3, 4]);
    expect(numbers(await api.get('/v1/streams/reads/events?from=2026-01-02T00:00:00Z&to=2026-01-04T00:00:00Z'))).toEqual([2, 3]);
    const page1 = await api.get('/v1/streams/reads/events?limit=3');
    expect(numbers(page1)).toEqual([1, 2, 3]);
    const page2 = await api.get(`/v1/streams/reads/events?limit=3&cursor=${page1.body.next_cursor}`);
    expect(numbers(page2)).toEqual([4]);
    expect(page2.body.next_cursor).toBeNull();
    expect((await api.get('/v1/streams/reads/events?limit=0')).status).toBe(400);
    expect((await api.get('/v1/streams/reads/events?limit=1001')).status).toBe(400);
    expect((await api.get(`/v1/streams/reads/events/${randomUUID()}`)).status).toBe(404);
  });
});
