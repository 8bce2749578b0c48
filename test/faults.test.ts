import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createLogger } from '../src/logger.ts';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { freePort } from './helpers/ports.ts';
import { spawnService } from './helpers/process.ts';
import { Receiver } from './helpers/receiver.ts';
import { SECRET_KEY } from './helpers/app.ts';
import { DATABASE_OUTAGE_MS } from './helpers/fault-durations.ts';

// A Postgres of this file's own, so restarting it disturbs no other test file.
let dataDir: string;
let port: number;
let postgres: EmbeddedPostgres;
let ctx: TestApp;
let tenant: Tenant;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-faults-'));
  port = await freePort();
  postgres = await startEmbeddedPostgres(dataDir, port, createLogger('warn'));
  await migrate(postgres.url);
  ctx = await startTestApp({ databaseUrl: postgres.url });
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  await tenant.admin.post('/v1/streams', { name: 'orders' });
});
afterAll(async () => {
  await ctx?.close();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Stops Postgres the hard way (SIGQUIT: immediate shutdown, crash recovery at the next start). */
async function crashPostgres(): Promise<void> {
  const pid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  process.kill(pid, 'SIGQUIT');
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('answers 503 with Retry-After while Postgres restarts, and resent ids leave no duplicates and no orphans', async () => {
  const producers = 4;
  const perProducer = 150;
  const unavailable: { status: number; retryAfter: string | null }[] = [];
  let acknowledged = 0;
  const produce = async () => {
    for (let n = 0; n < perProducer; n++) {
      const event = { id: randomUUID(), type: 'tick', payload: { n } };
      for (;;) {
        const response = await tenant.admin.post('/v1/streams/orders/events', event).catch(() => ({ status: 0, headers: new Headers(), body: undefined }));
        if (response.status === 201 || response.status === 200) break;
        unavailable.push({ status: response.status, retryAfter: response.headers.get('retry-after') });
        // A client that honours Retry-After would wait a second; the test resends sooner.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      acknowledged++;
    }
  };
  const load = Promise.all(Array.from({ length: producers }, produce));
  while (acknowledged < 100) await new Promise((resolve) => setTimeout(resolve, 10));
  await crashPostgres();
  postgres = await startEmbeddedPostgres(dataDir, port, createLogger('warn'));
  await load;

  expect(unavailable.length).toBeGreaterThan(0);
  for (const answer of unavailable) {
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('1');
  }
  expect((await fetch(`${ctx.url}/healthz`)).status).toBe(200);

  const total = producers * perProducer;
  const { rows: events } = await ctx.pool.query<{ seq: number }>('select seq::int as seq from events order by seq');
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  const { rows: jobs } = await ctx.pool.query<{ first: number; last: number }>(
    `select (data->>'first_seq')::int as first, (data->>'last_seq')::int as last from pgboss.job where name = 'dispatch' order by 1`,
  );
  // The dispatch jobs cover every stored seq exactly once, and nothing that is not stored.
  const covered = jobs.flatMap((job) => Array.from({ length: job.last - job.first + 1 }, (_, i) => job.first + i));
  expect(covered).toEqual(Array.from({ length: total }, (_, i) => i + 1));
});

it('recovers by itself when the database is unreachable for a while: not ready meanwhile, nothing lost', async () => {
  const receiver = await new Receiver().start();
  const worker = await spawnService({
    DATABASE_URL: postgres.url,
    EVENTFLOW_ROLE: 'worker',
    PORT: '0',
    EVENTFLOW_SECRET_KEY: SECRET_KEY,
    EVENTFLOW_ADMIN_TOKEN: PLATFORM_TOKEN,
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  try {
    await tenant.admin.post('/v1/streams', { name: 'outage' });
    const group = await tenant.admin.post('/v1/consumer-groups', { name: 'outage', streams: ['outage'], webhook_url: receiver.url });
    expect(group.status).toBe(201);
    await tenant.admin.post('/v1/streams/outage/events', { type: 'before', payload: {} });
    await receiver.until(() => receiver.delivered().length === 1);

    await crashPostgres();
    const down = await fetch(`${worker.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'not ready', checks: { database: false } });
    // Long enough for every worker loop to hit the outage (30 s under `npm run test:faults`).
    const restart = Date.now() + DATABASE_OUTAGE_MS;
    while (Date.now() < restart) {
      expect((await fetch(`${worker.url}/readyz`)).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    postgres = await startEmbeddedPostgres(dataDir, port, createLogger('warn'));

    await eventually(async () => (await fetch(`${worker.url}/readyz`)).status, (status) => status === 200);
    const after = await eventually(
      () => tenant.admin.post('/v1/streams/outage/events', { type: 'after', payload: {} }),
      (response) => response.status === 201,
      200,
    );
    expect(after.body.seq).toBe(2);
    await receiver.until(() => receiver.delivered().some((d) => d.json.type === 'after'));
    expect(worker.child.exitCode).toBeNull();
    const { rows } = await ctx.pool.query(
      `select count(*)::int as stuck from pgboss.job
       where state = 'active' and started_on + expire_seconds * interval '1 second' < now()`,
    );
    expect(rows[0].stuck).toBe(0);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
    await receiver.stop();
  }
});
