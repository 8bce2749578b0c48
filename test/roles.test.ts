import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.ts';
import { PLATFORM_TOKEN, SECRET_KEY } from './helpers/app.ts';
import { ApiClient, createTenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { spawnService, type ServiceProcess } from './helpers/process.ts';
import { Receiver } from './helpers/receiver.ts';

let databaseUrl: string;
const processes: ServiceProcess[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
});
afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  for (const r of receivers) await r.stop();
});

async function start(role: 'api' | 'worker' | 'all', env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await spawnService({
    DATABASE_URL: databaseUrl,
    EVENTFLOW_ROLE: role,
    PORT: '0',
    EVENTFLOW_SECRET_KEY: SECRET_KEY,
    EVENTFLOW_ADMIN_TOKEN: PLATFORM_TOKEN,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    ...env,
  });
  processes.push(service);
  return service;
}

async function delivered(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return Number(/^eventflow_deliveries_total\{outcome="delivered"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

it('runs api and worker processes apart on one database', async () => {
  const [api1, api2, worker1, worker2] = await Promise.all([start('api'), start('api'), start('worker'), start('worker')]);
  for (const service of [api1, api2, worker1, worker2]) {
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { database: true, migrations: true, queue: true } });
  }
  // A worker-only process serves health and metrics, not the API.
  expect((await fetch(`${worker1.url}/v1/streams`)).status).toBe(404);

  const tenant = await createTenant(new ApiClient(api1.url, PLATFORM_TOKEN));
  const viaSecond = new ApiClient(api2.url, tenant.adminKey);
  expect((await tenant.admin.post('/v1/streams', { name: 'split' })).status).toBe(201);
  const receiver = await new Receiver().start();
  receivers.push(receiver);
  expect((await viaSecond.post('/v1/consumer-groups', { name: 'g', streams: ['split'], webhook_url: receiver.url })).status).toBe(201);

  const events = Array.from({ length: 100 }, (_, n) => ({ type: 't', payload: { n } }));
  await Promise.all([
    tenant.admin.post('/v1/streams/split/events/batch', { events: events.slice(0, 50) }),
    viaSecond.post('/v1/streams/split/events/batch', { events: events.slice(50) }),
  ]);
  await receiver.until(() => new Set(receiver.delivered().map((d) => d.json.seq)).size === 100);
  expect(await delivered(api1)).toBe(0);
  expect(await delivered(api2)).toBe(0);
  expect((await delivered(worker1)) + (await delivered(worker2))).toBeGreaterThanOrEqual(100);
  for (const service of [api1, api2, worker1, worker2]) service.child.kill('SIGTERM');
  for (const service of [api1, api2, worker1, worker2]) expect(await service.exited).toBe(0);
});

it('drains on SIGTERM during a backlog: exits 0 within the bound and another worker takes over', async () => {
  const api = await start('api');
  const tenant = await createTenant(new ApiClient(api.url, PLATFORM_TOKEN), 'drain-co');
  await tenant.admin.post('/v1/streams', { name: 'backlog' });
  const receiver = await new Receiver().start();
  receiver.reply = () => ({ status: 200, delayMs: 20 });
  receivers.push(receiver);
  const group = await tenant.admin.post('/v1/consumer-groups', {
    name: 'slow',
    streams: ['backlog'],
    webhook_url: receiver.url,
    start_from: 'earliest',
    delivery: { max_in_flight: 4 },
  });
  const total = 600;
  const events = Array.from({ length: total }, (_, n) => ({ type: 't', payload: { n } }));
  for (let i = 0; i < total; i += 200) await tenant.admin.post('/v1/streams/backlog/events/batch', { events: events.slice(i, i + 200) });

  // The bound: past SHUTDOWN_TIMEOUT_MS (+ 5 s to close connections) main.ts exits 1.
  const workers = await Promise.all([start('worker', { SHUTDOWN_TIMEOUT_MS: '5000' }), start('worker', { SHUTDOWN_TIMEOUT_MS: '5000' })]);
  await receiver.until(() => receiver.delivered().length >= 100);
  const counts = await Promise.all(workers.map(delivered));
  // One run per group at a time: one worker is delivering, the other waits.
  expect(Math.max(...counts)).toBeGreaterThan(0);
  const busy = counts[0]! >= counts[1]! ? 0 : 1;
  const [draining, other] = [workers[busy], workers[1 - busy]!];
  const otherBefore = await delivered(other);

  draining.child.kill('SIGTERM');
  expect(await draining.exited, draining.stdout.slice(-5).join('\n')).toBe(0);
  expect(draining.stdout.some((line) => line.includes('"msg":"stopped"'))).toBe(true);

  await receiver.until(() => new Set(receiver.delivered().map((d) => d.json.seq)).size === total);
  expect(await delivered(other)).toBeGreaterThan(otherBefore);
  const offsets = await eventually(
    async () => (await tenant.admin.get(`/v1/consumer-groups/${group.body.id}`)).body.offsets,
    (rows: any[]) => rows[0].committed_seq === total,
  );
  expect(offsets[0].lag).toBe(0);
});
