import { afterAll, beforeAll, expect, it } from 'vitest';
import { isPublicAddress } from '../src/workers/ssrf.ts';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { Receiver } from './helpers/receiver.ts';

let strict: TestApp;
let lenientApi: TestApp;
let tenant: Tenant;
let receiver: Receiver;

beforeAll(async () => {
  // Workers and API that refuse private addresses, and a second API on the same database
  // that allows them, to create groups whose URLs only the connect-time check can stop.
  strict = await startTestApp({ workers: true, env: { WEBHOOK_ALLOW_PRIVATE: 'false' } });
  lenientApi = await startTestApp({ databaseUrl: strict.databaseUrl, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  tenant = await createTenant(new ApiClient(strict.url, PLATFORM_TOKEN));
  expect((await tenant.admin.post('/v1/streams', { name: 'orders' })).status).toBe(201);
  receiver = await new Receiver().start();
});
afterAll(async () => {
  await lenientApi?.close();
  await strict?.close();
  await receiver?.stop();
});

const refused: [string, string][] = [
  ['loopback', 'http://127.0.0.1/h'],
  ['loopback by name', 'http://localhost/h'],
  ['loopback, short form', 'http://127.1/h'],
  ['loopback, hex', 'http://0x7f000001/h'],
  ['loopback, decimal', 'http://2130706433/h'],
  ['loopback, octal', 'http://0177.0.0.1/h'],
  ['unspecified', 'http://0.0.0.0/h'],
  ['private 10/8', 'http://10.1.2.3/h'],
  ['private 172.16/12', 'http://172.16.0.1/h'],
  ['private 192.168/16', 'http://192.168.1.1/h'],
  ['link-local and cloud metadata', 'http://169.254.169.254/latest/meta-data'],
  ['CGNAT', 'http://100.64.0.1/h'],
  ['benchmarking', 'http://198.18.0.1/h'],
  ['reserved', 'http://240.0.0.1/h'],
  ['multicast', 'http://224.0.0.1/h'],
  ['broadcast', 'http://255.255.255.255/h'],
  ['IPv6 loopback', 'http://[::1]/h'],
  ['IPv6 unique local', 'http://[fc00::1]/h'],
  ['IPv6 metadata (AWS)', 'http://[fd00:ec2::254]/h'],
  ['IPv6 link-local', 'http://[fe80::1]/h'],
  ['IPv6 multicast', 'http://[ff02::1]/h'],
  ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/h'],
  ['IPv4-mapped private', 'http://[::ffff:10.0.0.1]/h'],
  ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]/h'],
];

it.each(refused)('refuses a webhook URL on %s at creation', async (_class, webhook_url) => {
  const response = await tenant.admin.post('/v1/consumer-groups', { name: `g-${Math.random()}`, streams: ['orders'], webhook_url });
  expect(response.status).toBe(400);
  expect(response.body.errors[0].path).toBe('webhook_url');
});

it('accepts a public address', async () => {
  expect(isPublicAddress('93.184.216.34')).toBe(true);
  expect(isPublicAddress('2606:2800:220:1:248:1893:25c8:1946')).toBe(true);
  const response = await tenant.admin.post('/v1/consumer-groups', { name: 'public', streams: ['orders'], webhook_url: 'https://93.184.216.34/hooks' });
  expect(response.status).toBe(201);
  await tenant.admin.patch(`/v1/consumer-groups/${response.body.id}`, { status: 'paused' });
});

it.each([
  ['an address literal', () => receiver.url],
  ['a name that resolves to loopback', () => receiver.url.replace('127.0.0.1', 'localhost')],
])('blocks %s again at connect time, without opening a connection', async (_kind, url) => {
  const lenient = new ApiClient(lenientApi.url, tenant.adminKey);
  const created = await lenient.post('/v1/consumer-groups', {
    name: `rebind-${Math.random()}`,
    streams: ['orders'],
    webhook_url: url(),
    start_from: 'latest',
    delivery: { max_attempts: 1 },
  });
  expect(created.status).toBe(201);
  await tenant.admin.post('/v1/streams/orders/events', { type: 'a', payload: {} });
  const attempts = await eventually(
    async () => (await tenant.admin.get(`/v1/consumer-groups/${created.body.id}/deliveries`)).body.data,
    (rows: any[]) => rows.length === 1,
  );
  expect(attempts[0]).toMatchObject({ status: 'blocked', status_code: null, error: expect.stringContaining('not a public address') });
  expect(receiver.connections).toBe(0);
  const dead = await tenant.admin.get(`/v1/dead-letters?group_id=${created.body.id}`);
  expect(dead.body.data[0]).toMatchObject({ attempts: 1, last_error: expect.stringContaining('not a public address') });
});
