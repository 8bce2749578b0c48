import { afterAll, beforeAll, expect, it } from 'vitest';
import { pruneHistory } from '../src/workers/retention.ts';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant } from './helpers/client.ts';

let ctx: TestApp;

beforeAll(async () => {
  ctx = await startTestApp();
});
afterAll(() => ctx?.close());

it('deletes delivery attempts past the retention and expired sessions, and keeps the rest', async () => {
  const tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  const stream = (await tenant.admin.post('/v1/streams', { name: 'orders' })).body;
  const group = (await tenant.admin.post('/v1/consumer-groups', { name: 'g', streams: ['orders'], webhook_url: 'http://127.0.0.1:9/hooks' })).body;
  // 12,000 attempts (more than one pruning batch) from 40 days ago, then 10 from today.
  await ctx.pool.query(
    `insert into delivery_attempts (group_id, stream_id, seq, event_id, attempt, status, duration_ms, at)
     select $1, $2, n, gen_random_uuid(), 1, 'delivered', 1, now() - case when n <= 12000 then interval '40 days' else interval '1 hour' end
     from generate_series(1, 12010) n`,
    [group.id, stream.id],
  );
  const user = (await tenant.admin.post('/v1/users', { email: 'r@example.com', password: 'a long password 123', role: 'viewer' })).body;
  await ctx.pool.query(
    `insert into sessions (token_hash, user_id, expires_at) values (decode(md5('a'), 'hex'), $1, now() - interval '1 minute'), (decode(md5('b'), 'hex'), $1, now() + interval '1 hour')`,
    [user.id],
  );

  expect(await pruneHistory(ctx.db, 30)).toEqual({ attempts: 12_000, sessions: 1 });
  const { rows } = await ctx.pool.query(`select min(seq)::int as first, count(*)::int as left from delivery_attempts`);
  expect(rows[0]).toEqual({ first: 12_001, left: 10 });
  expect((await ctx.pool.query('select count(*)::int as n from sessions')).rows[0].n).toBe(1);
  expect(await pruneHistory(ctx.db, 30)).toEqual({ attempts: 0, sessions: 0 });
});
