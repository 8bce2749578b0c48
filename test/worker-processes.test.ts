import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, SECRET_KEY, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { spawnService, type ServiceProcess } from './helpers/process.ts';
import { Receiver } from './helpers/receiver.ts';

let ctx: TestApp;
let tenant: Tenant;
let api: ApiClient;
const receivers: Receiver[] = [];
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  ctx = await startTestApp();
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  api = tenant.admin;
});
afterAll(async () => {
  for (const worker of workers) worker.child.kill('SIGKILL');
  await ctx?.close();
  for (const r of receivers) await r.stop();
});

/** A real `EVENTFLOW_ROLE=worker` process on the test database. */
async function worker(): Promise<ServiceProcess> {
  const process = await spawnService({
    DATABASE_URL: ctx.databaseUrl,
    EVENTFLOW_ROLE: 'worker',
    PORT: '0',
    EVENTFLOW_SECRET_KEY: SECRET_KEY,
    EVENTFLOW_ADMIN_TOKEN: PLATFORM_TOKEN,
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  workers.push(process);
  return process;
}

async function receiver(delayMs: number): Promise<Receiver> {
  const r = await new Receiver().start();
  r.reply = () => ({ status: 200, delayMs });
  receivers.push(r);
  return r;
}

async function sendMany(stream: string, count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += 500) {
    const events = Array.from({ length: Math.min(500, count - sent) }, (_, i) => ({ type: 'tick', payload: { n: sent + i } }));
    expect((await api.post(`/v1/streams/${stream}/events/batch`, { events })).status).toBe(201);
  }
}

const committed = async (groupId: string) =>
  ((await api.get(`/v1/consumer-groups/${groupId}`)).body.offsets as { stream: string; committed_seq: number }[]);

const distinctSeqs = (r: Receiver, stream?: string) =>
  new Set(r.delivered().filter((d) => !stream || d.json.stream === stream).map((d) => `${d.json.stream}:${d.json.seq}`)).size;

it('loses nothing when a worker is killed with SIGKILL in the middle of a backlog', async () => {
  expect((await api.post('/v1/streams', { name: 'crash' })).status).toBe(201);
  const r = await receiver(2);
  const group = await api.post('/v1/consumer-groups', {
    name: 'crash',
    streams: ['crash'],
    webhook_url: r.url,
    start_from: 'earliest',
    delivery: { max_in_flight: 8 },
  });
  const total = 2000;
  await sendMany('crash', total);
  const first = await worker();
  await r.until(() => r.delivered().length >= 300);
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = r.delivered().length;
  expect(atKill).toBeLessThan(total);

  await worker();
  await r.until(() => distinctSeqs(r) === total);
  await eventually(() => committed(group.body.id), (offsets) => offsets[0]!.committed_seq === total);
  const twice = r.delivered().length - total;
  console.log(`crash test: ${atKill} delivered before SIGKILL; ${total} distinct, ${twice} delivered twice`);
  expect(new Set(r.delivered().map((d) => d.json.seq)).size).toBe(total);
});

it('shares work between two worker processes: nothing lost, offsets monotonic, ordered groups in order', async () => {
  for (const name of ['side-a', 'side-b']) expect((await api.post('/v1/streams', { name })).status).toBe(201);
  const [parallel, ordered] = [await receiver(1), await receiver(0)];
  const groups = await Promise.all([
    api.post('/v1/consumer-groups', { name: 'side-parallel', streams: ['side-a', 'side-b'], webhook_url: parallel.url, start_from: 'earliest' }),
    api.post('/v1/consumer-groups', {
      name: 'side-ordered',
      streams: ['side-a', 'side-b'],
      webhook_url: ordered.url,
      start_from: 'earliest',
      delivery: { mode: 'ordered' },
    }),
  ]);
  const ids = groups.map((g) => g.body.id as string);
  await Promise.all([worker(), worker()]);

  const perStream = 1000;
  const seen = new Map<string, number>();
  let regressions = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const id of ids) {
        for (const offset of await committed(id)) {
          const key = `${id}:${offset.stream}`;
          if (offset.committed_seq < (seen.get(key) ?? 0)) regressions++;
          seen.set(key, offset.committed_seq);
        }
      }
    }
  })();
  await Promise.all([sendMany('side-a', perStream), sendMany('side-b', perStream)]);
  await parallel.until(() => distinctSeqs(parallel) === 2 * perStream);
  await ordered.until(() => distinctSeqs(ordered) === 2 * perStream);
  for (const id of ids) await eventually(() => committed(id), (offsets) => offsets.every((o) => o.committed_seq === perStream));
  watching = false;
  await watcher;

  expect(regressions).toBe(0);
  for (const stream of ['side-a', 'side-b']) {
    const order: number[] = [];
    for (const d of ordered.delivered().filter((x) => x.json.stream === stream)) if (!order.includes(d.json.seq)) order.push(d.json.seq);
    expect(order).toEqual(Array.from({ length: perStream }, (_, i) => i + 1));
  }
});

it('sends an event again, with the same webhook-id, when its worker is killed while the request is open', async () => {
  expect((await api.post('/v1/streams', { name: 'open' })).status).toBe(201);
  const r = await receiver(0);
  let first = true;
  // The first request is never answered: the worker is killed while it waits.
  r.reply = () => (first ? ((first = false), { hang: true }) : { status: 200 });
  const group = await api.post('/v1/consumer-groups', { name: 'open', streams: ['open'], webhook_url: r.url, start_from: 'earliest' });
  const sent = await api.post('/v1/streams/open/events', { type: 'held', payload: {} });
  const doomed = await worker();
  await eventually(async () => first, (stillFirst) => !stillFirst);
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  await worker();
  await r.until(() => r.delivered().length === 1);
  expect(r.delivered()[0]!.headers['webhook-id']).toBe(sent.body.id);
  const offsets = await eventually(() => committed(group.body.id), (rows) => rows[0]!.committed_seq === 1);
  expect(offsets[0]!.committed_seq).toBe(1);
});
