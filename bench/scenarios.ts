import pg from 'pg';
import { sampleEvent } from './raw.ts';
import { measureCpu, percentile, runConcurrently, ServiceProcess, setUpTenant, sleep, type Client, type CpuShare, type Receiver } from './support.ts';

export interface Measured {
  figure: number;
  p50?: number;
  p99?: number;
  peakRssMb: number;
  /** Where the CPU went during the measured span. */
  cpu?: CpuShare;
  /** Ingest only: append commits per second and the events each wrote on average. */
  commits?: { perSecond: number; eventsEach: number };
}

/**
 * One EventFlow process (api + workers) for one scenario, so its peak RSS is the
 * scenario's; `env` adds to its environment (bench:profile passes NODE_OPTIONS).
 */
async function withService<T>(
  databaseUrl: string,
  run: (service: ServiceProcess, api: Client) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T & { peakRssMb: number }> {
  const service = await ServiceProcess.start(databaseUrl, env);
  const api = await setUpTenant(service.url);
  try {
    const result = await run(service, api);
    return { ...result, peakRssMb: service.peakRssMb() };
  } finally {
    await api.close();
    await service.stop();
  }
}

async function createStream(api: Client, name: string): Promise<void> {
  const response = await api.call('POST', '/v1/streams', { name });
  if (response.status !== 201) throw new Error(`stream: ${response.status}`);
}

async function ingestBatches(api: Client, stream: string, events: number, clients: number, batch = 100): Promise<number> {
  const body = { events: Array.from({ length: batch }, () => sampleEvent) };
  const started = performance.now();
  await runConcurrently(events / batch, clients, async () => {
    const response = await api.call('POST', `/v1/streams/${stream}/events/batch`, body);
    if (response.status !== 201) throw new Error(`batch ingest: ${response.status} ${JSON.stringify(response.body)}`);
  });
  return events / ((performance.now() - started) / 1000);
}

/** Runs a measured ingest span, with the CPU split and the service's append commits during it. */
async function measureIngest(service: ServiceProcess, run: () => Promise<Omit<Measured, 'peakRssMb'>>): Promise<Omit<Measured, 'peakRssMb'>> {
  const before = await service.appendCommits();
  const started = performance.now();
  const { result, cpu } = await measureCpu({ eventflow: service.child.pid }, run);
  const seconds = (performance.now() - started) / 1000;
  const after = await service.appendCommits();
  const commits = after.commits - before.commits;
  return { ...result, cpu, commits: { perSecond: commits / seconds, eventsEach: (after.events - before.events) / commits } };
}

export function ingestBatch(databaseUrl: string, events: number, env?: Record<string, string>): Promise<Measured> {
  return withService(
    databaseUrl,
    async (service, api) => {
      await createStream(api, 'batch');
      await ingestBatches(api, 'batch', Math.min(2000, events), 8); // warm-up
      return measureIngest(service, async () => ({ figure: await ingestBatches(api, 'batch', events, 8) }));
    },
    env,
  );
}

/** 16 clients sending one event per request, the i-th request to stream i % `streams`. */
export function ingestSingle(databaseUrl: string, events: number, env?: Record<string, string>, streams = 1): Promise<Measured> {
  return withService(databaseUrl, async (service, api) => {
    for (let s = 0; s < streams; s++) await createStream(api, `single-${s}`);
    const latencies: number[] = [];
    const send = async (index: number) => {
      const started = performance.now();
      const response = await api.call('POST', `/v1/streams/single-${index % streams}/events`, sampleEvent);
      if (response.status !== 201) throw new Error(`ingest: ${response.status}`);
      latencies.push(performance.now() - started);
    };
    await runConcurrently(Math.min(1000, events), 16, send); // warm-up
    latencies.length = 0;
    return measureIngest(service, async () => {
      const started = performance.now();
      await runConcurrently(events, 16, send);
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      return { figure: events / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    });
  }, env);
}

interface DeliveryShape {
  groups: number;
  mode: 'parallel' | 'ordered';
}

/**
 * A backlog of `events` is appended while the groups are paused; the clock runs from the
 * resume until the receiver has acknowledged every delivery.
 */
export function deliverBacklog(databaseUrl: string, receiver: Receiver, events: number, shape: DeliveryShape): Promise<Measured> {
  return withService(databaseUrl, async (service, api) => {
    await createStream(api, 'backlog');
    const ids: string[] = [];
    for (let g = 0; g < shape.groups; g++) {
      const created = await api.call('POST', '/v1/consumer-groups', {
        name: `g${g}`,
        streams: ['backlog'],
        webhook_url: receiver.url,
        start_from: 'earliest',
        delivery: { mode: shape.mode, max_in_flight: 64 },
      });
      if (created.status !== 201) throw new Error(`group: ${created.status} ${JSON.stringify(created.body)}`);
      ids.push(created.body.id as string);
      await api.call('PATCH', `/v1/consumer-groups/${created.body.id}`, { status: 'paused' });
    }
    await ingestBatches(api, 'backlog', events, 8, 500);
    await receiver.reset();
    const { result: seconds, cpu } = await measureCpu({ eventflow: service.child.pid, receiver: receiver.pid }, async () => {
      const started = performance.now();
      for (const id of ids) await api.call('PATCH', `/v1/consumer-groups/${id}`, { status: 'active' });
      await receiver.until(events * shape.groups, 600_000);
      return (performance.now() - started) / 1000;
    });
    return { figure: (events * shape.groups) / seconds, cpu };
  });
}

/**
 * Single events offered at `rate`/s for `seconds` (after one unmeasured second that warms
 * the JIT and starts the group's run); latency from each ingest answer to its arrival.
 */
export function endToEnd(databaseUrl: string, receiver: Receiver, rate: number, seconds: number): Promise<Measured> {
  return withService(databaseUrl, async (_service, api) => {
    await createStream(api, 'live');
    await api.call('POST', '/v1/consumer-groups', { name: 'live', streams: ['live'], webhook_url: receiver.url });
    const warmUp = new Map<string, number>();
    await offer(api, rate, 1, warmUp);
    // Every warm-up event delivered before the count restarts, so none is counted as measured.
    await receiver.until(warmUp.size, 60_000);
    await receiver.reset();
    const answered = new Map<string, number>();
    const started = performance.now();
    await offer(api, rate, seconds, answered);
    const arrivals = await arrivalsOf(receiver, [...answered.keys()], 60_000);
    const latencies = [...answered].map(([id, at]) => arrivals.get(id)! - at).sort((a, b) => a - b);
    const offered = answered.size / ((performance.now() - started) / 1000);
    return { figure: offered, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  });
}

/** When each of `ids` arrived at the receiver, once all have; rejects after `timeoutMs`. */
async function arrivalsOf(receiver: Receiver, ids: string[], timeoutMs: number): Promise<Map<string, number>> {
  await receiver.until(ids.length, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const arrivals = await receiver.arrivals();
    const missing = ids.filter((id) => !arrivals.has(id)).length;
    if (missing === 0) return arrivals;
    if (Date.now() > deadline) throw new Error(`${missing} of ${ids.length} events never arrived`);
    await sleep(100);
  }
}

/** Sends single events at `rate`/s for `seconds`, noting when each was answered (epoch ms). */
async function offer(api: Client, rate: number, seconds: number, answered: Map<string, number>): Promise<void> {
  const tickMs = 10;
  const perTick = (rate * tickMs) / 1000;
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  for (let tick = 0; tick < (seconds * 1000) / tickMs; tick++) {
    for (let i = 0; i < perTick; i++) {
      inFlight.push(
        api.call('POST', '/v1/streams/live/events', sampleEvent).then((response) => {
          answered.set(response.body.id as string, performance.timeOrigin + performance.now());
        }),
      );
    }
    await sleep(Math.max(0, started + (tick + 1) * tickMs - performance.now()));
  }
  await Promise.all(inFlight);
}

/** Fills a stream with `rows` events straight in SQL (500k per statement), as history. */
export async function fillHistory(databaseUrl: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const { rows: orgs } = await client.query<{ id: string }>(`insert into organizations (id, name, slug) values (gen_random_uuid(), 'history', 'history-' || md5(random()::text)) returning id`);
  const org = orgs[0]!.id;
  const { rows: streams } = await client.query<{ id: string }>(`insert into event_streams (id, organization_id, name) values (gen_random_uuid(), $1, 'history') returning id`, [org]);
  const stream = streams[0]!.id;
  const payload = JSON.stringify(sampleEvent.payload);
  for (let from = 1; from <= rows; from += 500_000) {
    const to = Math.min(rows, from + 499_999);
    await client.query(
      `insert into events (stream_id, seq, id, organization_id, payload, metadata, occurred_at_supplied)
       select $1, n, gen_random_uuid(), $2, $3::jsonb,
         jsonb_build_object('event_type', 'order_created', 'event_version', 1, 'occurred_at', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'source', 'history', 'api_key_id', null, 'context', '{}'::jsonb), false
       from generate_series($4::bigint, $5::bigint) n`,
      [stream, org, payload, from, to],
    );
  }
  await client.query('update event_streams set last_seq = $2 where id = $1', [stream, rows]);
  await client.query('vacuum analyze events');
  await client.end();
}
