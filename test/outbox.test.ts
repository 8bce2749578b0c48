import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { APPENDS_CHANNEL } from '../src/channels.ts';
import { installBoss, DISPATCH_QUEUE } from '../src/workers/queues.ts';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';

let ctx: TestApp;
let tenant: Tenant;

beforeAll(async () => {
  ctx = await startTestApp();
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  expect((await tenant.admin.post('/v1/streams', { name: 'orders' })).status).toBe(201);
});
afterAll(() => ctx?.close());

async function dispatchJobs(): Promise<{ stream_id: string; first_seq: number; last_seq: number }[]> {
  const { rows } = await ctx.pool.query(`select data from pgboss.job where name = $1 order by created_on, id`, [DISPATCH_QUEUE]);
  return rows.map((row: { data: never }) => row.data);
}

async function storedEventCount(): Promise<number> {
  const { rows } = await ctx.pool.query('select count(*)::int as n from events');
  return rows[0].n;
}

it('commits each append together with one dispatch job naming its seq range', async () => {
  const stream = await tenant.admin.get('/v1/streams/orders');
  expect((await tenant.admin.post('/v1/streams/orders/events', { type: 'a', payload: {} })).status).toBe(201);
  const batch = await tenant.admin.post('/v1/streams/orders/events/batch', {
    events: [1, 2, 3].map((n) => ({ type: 'b', payload: { n } })),
  });
  expect(batch.status).toBe(201);
  // A resend of stored events appends nothing, so it must not create a job either.
  const ids = batch.body.events.map((e: { id: string }) => e.id);
  const resend = await tenant.admin.post('/v1/streams/orders/events/batch', {
    events: [1, 2, 3].map((n, i) => ({ id: ids[i], type: 'b', payload: { n } })),
  });
  expect(resend.status).toBe(200);

  expect(await dispatchJobs()).toEqual([
    { stream_id: stream.body.id, first_seq: 1, last_seq: 1 },
    { stream_id: stream.body.id, first_seq: 2, last_seq: 4 },
  ]);
  expect(await storedEventCount()).toBe(4);
});

it('leaves neither events nor a job when the job send fails after the events insert', async () => {
  const eventsBefore = await storedEventCount();
  // Dropping the queue (and its jobs) makes pg-boss's own insert fail inside the append
  // transaction, after the events were inserted and last_seq was bumped.
  const [stored] = (await tenant.admin.get('/v1/streams/orders/events?limit=1')).body.data;
  await ctx.boss.deleteQueue(DISPATCH_QUEUE);
  try {
    // New events take the one-statement path; a resend of a stored id beside a new event
    // takes the transaction that looks ids up. Both must fail whole.
    const fresh = [{ type: 'lost', payload: {} }, { type: 'lost', payload: {} }];
    const resend = { id: stored.id, type: stored.type, payload: stored.payload };
    for (const events of [fresh, [resend, { type: 'lost', payload: {} }]]) {
      const failed = await tenant.admin.post('/v1/streams/orders/events/batch', { events });
      expect(failed.status).toBe(500);
      expect(failed.body.detail).toMatch(/^internal error \(request [0-9a-f-]{36}\)$/);
      expect(JSON.stringify(failed.body)).not.toContain('pgboss');
    }
  } finally {
    await installBoss(ctx.databaseUrl);
  }
  expect(await storedEventCount()).toBe(eventsBefore);
  expect(await dispatchJobs()).toEqual([]);
  expect((await tenant.admin.get('/v1/streams/orders')).body.last_seq).toBe(4);

  // The queue is back: the next append takes seq 5, with no gap left by the failed one.
  const stream = await tenant.admin.get('/v1/streams/orders');
  await restartBoss();
  const next = await tenant.admin.post('/v1/streams/orders/events', { type: 'after', payload: {} });
  expect(next.status).toBe(201);
  expect(next.body.seq).toBe(5);
  expect(await dispatchJobs()).toEqual([{ stream_id: stream.body.id, first_seq: 5, last_seq: 5 }]);
});

it('gives a batch that resends a stored id a job for its new events only', async () => {
  const stream = (await tenant.admin.post('/v1/streams', { name: 'mixed' })).body;
  const first = await tenant.admin.post('/v1/streams/mixed/events', { type: 'a', payload: {} });
  // The stored id sends this batch through the transaction that looks ids up.
  const mixed = await tenant.admin.post('/v1/streams/mixed/events/batch', {
    events: [{ id: first.body.id, type: 'a', payload: {} }, { type: 'b', payload: {} }, { type: 'c', payload: {} }],
  });
  expect(mixed.status).toBe(201);
  expect(mixed.body.events.map((e: { seq: number; duplicate: boolean }) => [e.seq, e.duplicate])).toEqual([[1, true], [2, false], [3, false]]);
  expect((await dispatchJobs()).filter((job) => job.stream_id === stream.id)).toEqual([
    { stream_id: stream.id, first_seq: 1, last_seq: 1 },
    { stream_id: stream.id, first_seq: 2, last_seq: 3 },
  ]);
  const { rows } = await ctx.pool.query(`select seq::int, metadata->>'event_type' as type from events where stream_id = $1 order by seq`, [stream.id]);
  expect(rows).toEqual([{ seq: 1, type: 'a' }, { seq: 2, type: 'b' }, { seq: 3, type: 'c' }]);
});

it('writes the dispatch job exactly as pg-boss send() would, apart from its id, data and clocks', async () => {
  const appended = await tenant.admin.post('/v1/streams/orders/events', { type: 'compare', payload: {} });
  expect(appended.status).toBe(201);
  const sentId = await ctx.boss.send(DISPATCH_QUEUE, { stream_id: 'x', first_seq: 0, last_seq: 0 });
  const { rows } = await ctx.pool.query(
    `select *, keep_until - start_after as retention, created_on - start_after as created_offset from pgboss.job
     where name = $1 and (id = $2 or data->>'first_seq' = $3)`,
    [DISPATCH_QUEUE, sentId, String(appended.body.seq)],
  );
  expect(rows).toHaveLength(2);
  const comparable = (row: Record<string, unknown>) => {
    const { id: _id, data: _data, start_after: _s, created_on: _c, keep_until: _k, ...rest } = row;
    return rest;
  };
  const [sent, written] = rows[0].id === sentId ? [rows[0], rows[1]] : [rows[1], rows[0]];
  expect(comparable(written)).toEqual(comparable(sent));
  await ctx.pool.query('delete from pgboss.job where id = $1', [sentId]);
});

it('wakes workers after an append commits, and only for appends that wrote events', async () => {
  const quiet = (await tenant.admin.post('/v1/streams', { name: 'quiet' })).body;
  const loud = (await tenant.admin.post('/v1/streams', { name: 'loud' })).body;
  const stored = await tenant.admin.post('/v1/streams/quiet/events', { type: 'a', payload: {} });
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  await listener.connect();
  try {
    const { rows } = await listener.query(`select 'pgboss_' || left(encode(sha224('pgboss'::bytea), 'hex'), 24) as channel`);
    const heard: string[] = [];
    listener.on('notification', ({ channel, payload }) => heard.push(`${channel === APPENDS_CHANNEL ? 'appends' : channel === rows[0].channel ? 'pgboss' : channel}:${payload}`));
    await listener.query(`listen ${APPENDS_CHANNEL}`);
    await listener.query(`listen "${rows[0].channel}"`);

    // A resend (nothing written), a conflict and an unknown stream wake no one ...
    expect((await tenant.admin.post('/v1/streams/quiet/events', { id: stored.body.id, type: 'a', payload: {} })).status).toBe(200);
    expect((await tenant.admin.post('/v1/streams/quiet/events', { id: stored.body.id, type: 'b', payload: {} })).status).toBe(409);
    expect((await tenant.admin.post('/v1/streams/nowhere/events', { type: 'a', payload: {} })).status).toBe(404);
    // ... and the notifications come in order, so once `loud` is heard, any for `quiet` would have been.
    expect((await tenant.admin.post('/v1/streams/loud/events', { type: 'a', payload: {} })).status).toBe(201);
    await eventually(async () => heard, (seen) => seen.includes(`appends:${loud.id}`), 5);
    expect(heard).not.toContain(`appends:${quiet.id}`);
    expect(heard).toContain(`pgboss:${DISPATCH_QUEUE}`);
  } finally {
    await listener.end();
  }
});

/** pg-boss caches queue tables; the recreated queue must be looked up afresh. */
async function restartBoss(): Promise<void> {
  await ctx.boss.stop({ graceful: false, close: false });
  await ctx.boss.start();
}
