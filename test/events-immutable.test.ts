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
  await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN)); // another organization
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

it("refuses an event whose organization is not its stream's", async () => {
  const { rows: orgs } = await client.query(`select o.id from organizations o where not exists (select 1 from event_streams s where s.organization_id = o.id)`);
  expect(orgs.length).toBeGreaterThan(0);
  const insert = (organizationId: string) =>
    client.query(
      `insert into events (stream_id, seq, id, organization_id, payload, metadata, occurred_at_supplied)
       select s.id, 99, gen_random_uuid(), $1, '{}', '{}', false from event_streams s where s.name = 'facts'`,
      [organizationId],
    );
  await expect(insert(orgs[0].id)).rejects.toThrow(/events_stream_organization_fk/);
  const { rows } = await client.query(`select count(*)::int as n from events`);
  expect(rows[0].n).toBe(1);
});
