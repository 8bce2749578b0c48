import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { Receiver } from './helpers/receiver.ts';

/*
 * Ingest transactions that commit in another order than they started must never let a
 * group's offset pass an event it has not settled. This file's database gets a trigger
 * that sleeps a random 0-8 ms inside every append transaction, after its events are
 * written and before its job and commit: appends spread over three API processes and
 * four streams then commit in random orders (one with more events, started first, often
 * commits last), while delivery runs and a watcher checks every offset it samples.
 */

const STREAMS = ['s0', 's1', 's2', 's3'];
const PRODUCERS = 12;
const REQUESTS_PER_PRODUCER = 40;

let workers: TestApp;
const apis: TestApp[] = [];
let tenant: Tenant;

beforeAll(async () => {
  workers = await startTestApp({ workers: true });
  apis.push(workers, await startTestApp({ databaseUrl: workers.databaseUrl }), await startTestApp({ databaseUrl: workers.databaseUrl }));
  await workers.pool.query(`
    create function test_commit_jitter() returns trigger language plpgsql as $$
    begin perform pg_sleep(random() * 0.008); return null; end $$;
    create trigger test_commit_jitter after insert on events for each statement execute function test_commit_jitter();`);
  tenant = await createTenant(new ApiClient(workers.url, PLATFORM_TOKEN));
  for (const name of STREAMS) expect((await tenant.admin.post('/v1/streams', { name })).status).toBe(201);
});
afterAll(async () => {
  for (const app of apis.slice(1)) await app.close();
  await workers?.close();
});

/** Random with a seed printed on failure, so an interleaving that broke can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

it('never lets an offset pass an unsettled event, whatever order concurrent appends commit in', async () => {
  const seed = Date.now() % 1_000_000;
  const next = random(seed);
  // One receiver per group; one failure in ten, so retries are in flight while offsets move.
  const receivers = [await new Receiver().start(), await new Receiver().start()];
  for (const receiver of receivers) receiver.reply = () => ({ status: next() < 0.1 ? 503 : 200 });
  const delivery = { max_attempts: 100, initial_delay_ms: 10, max_delay_ms: 50 };
  const modes = [{ mode: 'parallel', max_in_flight: 8 }, { mode: 'ordered' }];
  const groups: string[] = [];
  for (const [index, mode] of modes.entries()) {
    const body = { name: mode.mode, streams: STREAMS, webhook_url: receivers[index]!.url, start_from: 'earliest', delivery: { ...delivery, ...mode } };
    groups.push((await tenant.admin.post('/v1/consumer-groups', body)).body.id);
  }

  /** What each group acknowledged: `${group}/${stream}` to seqs. */
  const acknowledged = () => {
    const seen = new Map<string, Set<number>>();
    receivers.forEach((receiver, index) => {
      for (const request of receiver.delivered()) {
        const key = `${groups[index]}/${request.json.stream}`;
        seen.set(key, (seen.get(key) ?? new Set()).add(request.json.seq));
      }
    });
    return seen;
  };

  let producing = true;
  const violations: string[] = [];
  let samples = 0;
  const watcher = (async () => {
    while (producing || samples < 5) {
      const { rows } = await workers.pool.query<{ group_id: string; stream: string; committed_seq: string }>(
        `select o.group_id, s.name as stream, o.committed_seq from consumer_offsets o join event_streams s on s.id = o.stream_id`,
      );
      // Read after the offsets: an acknowledgement only ever gets added, so this is no earlier than the commit saw.
      const seen = acknowledged();
      for (const row of rows) {
        const delivered = seen.get(`${row.group_id}/${row.stream}`) ?? new Set<number>();
        for (let seq = 1; seq <= Number(row.committed_seq); seq++) {
          if (!delivered.has(seq)) violations.push(`group ${row.group_id} stream ${row.stream}: offset ${row.committed_seq} passed unsettled seq ${seq}`);
        }
      }
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  const produce = async () => {
    for (let request = 0; request < REQUESTS_PER_PRODUCER; request++) {
      const api = new ApiClient(apis[Math.floor(next() * apis.length)]!.url, tenant.adminKey);
      const stream = STREAMS[Math.floor(next() * STREAMS.length)]!;
      const size = 1 + Math.floor(next() * 5);
      const events = Array.from({ length: size }, () => ({ type: 'tick', payload: {} }));
      const response = size === 1 ? await api.post(`/v1/streams/${stream}/events`, events[0]) : await api.post(`/v1/streams/${stream}/events/batch`, { events });
      expect(response.status, `seed ${seed}`).toBe(201);
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, produce));
  producing = false;
  await watcher;

  const lastSeqs = new Map<string, number>();
  for (const name of STREAMS) lastSeqs.set(name, (await tenant.admin.get(`/v1/streams/${name}`)).body.last_seq);
  for (const group of groups) {
    await eventually(
      async () => (await tenant.admin.get(`/v1/consumer-groups/${group}`)).body.offsets as { stream: string; committed_seq: number }[],
      (offsets) => offsets.every((offset) => offset.committed_seq === lastSeqs.get(offset.stream)),
    );
  }
  expect(violations, `seed ${seed}`).toEqual([]);
  expect(samples).toBeGreaterThan(5);
  const seen = acknowledged();
  for (const group of groups) {
    for (const name of STREAMS) {
      expect([...(seen.get(`${group}/${name}`) ?? [])].sort((a, b) => a - b), `seed ${seed}`).toEqual(
        Array.from({ length: lastSeqs.get(name)! }, (_, i) => i + 1),
      );
    }
  }
  expect((await tenant.admin.get('/v1/dead-letters')).body.data).toEqual([]);
  for (const receiver of receivers) await receiver.stop();
});
