import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant } from './helpers/client.ts';

const PRODUCERS = 8;
const EVENTS_PER_PRODUCER = 200;
const TOTAL = PRODUCERS * EVENTS_PER_PRODUCER;

let first: TestApp;
let second: TestApp;

beforeAll(async () => {
  first = await startTestApp();
  // A second API process on the same database: appends from both must share one sequence.
  second = await startTestApp({ databaseUrl: first.databaseUrl });
});
afterAll(async () => {
  await second?.close();
  await first?.close();
});

/** Sends its share as a mix of single events and batches of 1..25. */
async function produce(api: ApiClient, producer: number): Promise<void> {
  let sent = 0;
  let round = 0;
  while (sent < EVENTS_PER_PRODUCER) {
    const size = Math.min(round % 2 === 0 ? 1 : 1 + ((producer * 7 + round) % 25), EVENTS_PER_PRODUCER - sent);
    const events = Array.from({ length: size }, (_, i) => ({ type: 'tick', payload: { producer, n: sent + i } }));
    const response =
      size === 1 && round % 2 === 0
        ? await api.post('/v1/streams/ticks/events', events[0])
        : await api.post('/v1/streams/ticks/events/batch', { events });
    expect(response.status).toBe(201);
    sent += size;
    round += 1;
  }
}

it('gives 8 concurrent producers on two API processes seqs exactly 1..1600, never behind a reader', async () => {
  const tenant = await createTenant(new ApiClient(first.url, PLATFORM_TOKEN));
  expect((await tenant.admin.post('/v1/streams', { name: 'ticks' })).status).toBe(201);
  const apis = [new ApiClient(first.url, tenant.adminKey), new ApiClient(second.url, tenant.adminKey)];

  let producing = true;
  const seen: number[] = [];
  // The reader only ever asks for what follows the highest seq it has seen. If an event
  // could commit later with a lower seq, the reader would skip it and `seen` would have a gap.
  const reader = (async () => {
    let after = 0;
    let polls = 0;
    for (;;) {
      const done = !producing;
      const page = await apis[polls++ % 2]!.get(`/v1/streams/ticks/events?after_seq=${after}&limit=1000`);
      for (const event of page.body.data as { seq: number }[]) {
        seen.push(event.seq);
        after = event.seq;
      }
      if (done && page.body.data.length === 0) return polls;
    }
  })();

  await Promise.all(Array.from({ length: PRODUCERS }, (_, producer) => produce(apis[producer % 2]!, producer)));
  producing = false;
  const polls = await reader;

  expect(polls).toBeGreaterThan(2);
  expect(seen).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  const { rows } = await first.pool.query<{ seq: number }>(
    `select e.seq::int as seq from events e join event_streams s on s.id = e.stream_id
     where s.name = 'ticks' and s.organization_id = $1 order by e.seq`,
    [tenant.organizationId],
  );
  expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  const stream = await apis[0]!.get('/v1/streams/ticks');
  expect(stream.body).toMatchObject({ last_seq: TOTAL, event_count: TOTAL });
  const perProducer = new Map<number, number[]>();
  const all = await first.pool.query<{ producer: number; n: number }>(
    `select (payload->>'producer')::int as producer, (payload->>'n')::int as n from events e
     join event_streams s on s.id = e.stream_id where s.name = 'ticks' and s.organization_id = $1 order by e.seq`,
    [tenant.organizationId],
  );
  for (const row of all.rows) perProducer.set(row.producer, [...(perProducer.get(row.producer) ?? []), row.n]);
  // Each producer awaited every answer before sending more, so its own events keep its order.
  for (const [, numbers] of perProducer) expect(numbers).toEqual(Array.from({ length: EVENTS_PER_PRODUCER }, (_, i) => i));
});
