import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { Receiver } from './helpers/receiver.ts';

let ctx: TestApp;
let owner: Tenant;
let stranger: Tenant;
let receiver: Receiver;
const ids = { group: '', deadLetter: '', event: '', key: '', user: '' };

beforeAll(async () => {
  ctx = await startTestApp({ workers: true });
  const platform = new ApiClient(ctx.url, PLATFORM_TOKEN);
  owner = await createTenant(platform);
  stranger = await createTenant(platform);
  receiver = await new Receiver().start();
  receiver.reply = () => ({ status: 500 });
  await owner.admin.post('/v1/streams', { name: 'private' });
  await stranger.admin.post('/v1/streams', { name: 'mine' });
  const group = await owner.admin.post('/v1/consumer-groups', {
    name: 'owners',
    streams: ['private'],
    webhook_url: receiver.url,
    delivery: { max_attempts: 1 },
  });
  ids.group = group.body.id;
  ids.event = (await owner.admin.post('/v1/streams/private/events', { type: 'secret', payload: { n: 1 } })).body.id;
  ids.key = (await owner.admin.post('/v1/api-keys', { name: 'k', scopes: ['read'] })).body.id;
  ids.user = (await owner.admin.post('/v1/users', { email: `owner-${process.pid}@example.com`, password: 'a long enough password', role: 'viewer' })).body.id;
  const [dead] = await eventually(async () => (await owner.admin.get('/v1/dead-letters')).body.data, (rows: any[]) => rows.length === 1);
  ids.deadLetter = dead.id;
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.stop();
});

/** Every route that names a resource, tried by another organization with the owner's ids and names. */
const probes: [string, string, () => { path: string; body?: unknown }][] = [
  ['GET', 'stream', () => ({ path: '/v1/streams/private' })],
  ['GET', 'events', () => ({ path: '/v1/streams/private/events' })],
  ['GET', 'event', () => ({ path: `/v1/streams/private/events/${ids.event}` })],
  ['POST', 'append', () => ({ path: '/v1/streams/private/events', body: { type: 'x', payload: {} } })],
  ['POST', 'append batch', () => ({ path: '/v1/streams/private/events/batch', body: { events: [{ type: 'x', payload: {} }] } })],
  ['DELETE', 'revoke key', () => ({ path: `/v1/api-keys/${ids.key}` })],
  ['GET', 'group', () => ({ path: `/v1/consumer-groups/${ids.group}` })],
  ['PATCH', 'pause group', () => ({ path: `/v1/consumer-groups/${ids.group}`, body: { status: 'paused' } })],
  ['DELETE', 'delete group', () => ({ path: `/v1/consumer-groups/${ids.group}` })],
  ['POST', 'rotate secret', () => ({ path: `/v1/consumer-groups/${ids.group}/rotate-secret` })],
  ['POST', 'reset offsets', () => ({ path: `/v1/consumer-groups/${ids.group}/offsets/reset`, body: { stream: 'private', to: 'earliest' } })],
  ['GET', 'deliveries', () => ({ path: `/v1/consumer-groups/${ids.group}/deliveries` })],
  ['GET', 'group activity', () => ({ path: `/v1/consumer-groups/${ids.group}/activity` })],
  ['GET', 'stream activity', () => ({ path: '/v1/streams/private/activity' })],
  ['DELETE', 'delete user', () => ({ path: `/v1/users/${ids.user}` })],
  ['GET', 'dead letters of the group', () => ({ path: `/v1/dead-letters?group_id=${ids.group}` })],
  ['GET', 'dead letters of the stream', () => ({ path: '/v1/dead-letters?stream=private' })],
  ['GET', 'dead letter', () => ({ path: `/v1/dead-letters/${ids.deadLetter}` })],
  ['POST', 'retry dead letter', () => ({ path: `/v1/dead-letters/${ids.deadLetter}/retry` })],
  ['POST', 'discard dead letter', () => ({ path: `/v1/dead-letters/${ids.deadLetter}/discard` })],
  ['POST', 'bulk retry of the group', () => ({ path: '/v1/dead-letters/retry', body: { group_id: ids.group } })],
  ['POST', 'create a group on the stream', () => ({ path: '/v1/consumer-groups', body: { name: 'spy', streams: ['private'], webhook_url: receiver.url } })],
];

it.each(probes)('%s %s of another organization answers as if it did not exist, and changes nothing', async (method, _what, probe) => {
  const { path, body } = probe();
  const before = await snapshot();
  const response = await stranger.admin.request<any>(method, path, body);
  const missing = await stranger.admin.request<any>(method, path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, randomUUID()).replace(/private/g, 'absent'), body);
  expect([400, 404]).toContain(response.status);
  expect(response.status).toBe(missing.status);
  expect(response.body.title).toBe(missing.body.title);
  expect(JSON.stringify(response.body)).not.toContain(ids.group);
  expect(await snapshot()).toEqual(before);
});

it('lists nothing of another organization, whatever the filters and cursors', async () => {
  for (const path of ['/v1/streams', '/v1/consumer-groups', '/v1/dead-letters', '/v1/api-keys', '/v1/users']) {
    const listed = await stranger.admin.get(path);
    expect(JSON.stringify(listed.body)).not.toMatch(new RegExp(`${ids.group}|${ids.deadLetter}|${ids.key}|${ids.user}|private`));
  }
  // A cursor names a position, not a row: one made elsewhere still reads only this organization.
  const cursor = Buffer.from(JSON.stringify('a')).toString('base64url');
  expect((await stranger.admin.get(`/v1/streams?cursor=${cursor}`)).body.data.map((s: { name: string }) => s.name)).toEqual(['mine']);
});

/** What another organization's requests must never change. */
async function snapshot(): Promise<unknown> {
  const { rows } = await ctx.pool.query(`
    select (select count(*) from events) as events,
      (select json_agg(json_build_object('s', status, 'd', deleted_at) order by id) from consumer_groups) as groups,
      (select json_agg(json_build_object('c', committed_seq, 'g', generation)) from consumer_offsets) as offsets,
      (select json_agg(status order by id) from dead_letter_events) as dead,
      (select count(*) from consumer_group_secrets) as secrets,
      (select json_agg(revoked_at order by id) from api_keys) as keys,
      (select count(*) from users) as users`);
  return rows[0];
}
