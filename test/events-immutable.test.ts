import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant } from './helpers/client.ts';

let ctx: TestApp;
let client: pg.Client;

beforeAll(async () => {
  ctx = await startTestApp();
  const tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  await tenant.admin.post('/v1/streams', { name: 'facts' });
  expect((await tenant.admin.post('/v1/streams/facts/events', { type: 'a', payload: { n: 1 } })).status).toBe(201);
  client = new pg.Client({ connectionString: ctx.databaseUrl });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await ctx?.close();
});

it.each([
  ['UPDATE', `update events set payload = '{"n":2}'`],
  ['DELETE', 'delete from events'],
  ['TRUNCATE', 'truncate events cascade'],
])('refuses %s on events in the database itself', async (operation, statement) => {
  await expect(client.query(statement)).rejects.toThrow(`events are immutable: ${operation} refused`);
  const { rows } = await client.query(`select payload from events`);
  expect(rows).toEqual([{ payload: { n: 1 } }]);
});
