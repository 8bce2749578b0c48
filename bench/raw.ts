import { createHmac, randomUUID } from 'node:crypto';
import pg from 'pg';
import { Pool } from 'undici';
import { measureCpu, runConcurrently, type CpuShare } from './support.ts';

/** The event every ingest scenario sends, and the raw inserts store. */
export const samplePayload = {
  order_id: 'o-12345',
  customer_id: 'c-678',
  total: 42.5,
  currency: 'EUR',
  items: [
    { sku: 'sku-1', qty: 2, price: 10 },
    { sku: 'sku-2', qty: 1, price: 22.5 },
  ],
};
export const sampleEvent = { type: 'order_created', source: 'checkout', payload: samplePayload, context: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' } };

const metadata = JSON.stringify({
  event_type: 'order_created',
  event_version: 1,
  occurred_at: new Date().toISOString(),
  source: 'checkout',
  api_key_id: randomUUID(),
  context: sampleEvent.context,
});

/** A raw rate, and where the CPU went while it was measured. */
export interface RawRate {
  perSecond: number;
  cpu: CpuShare;
}

/** `count` units of work over `connections` at once, timed; units/s. */
async function timed(count: number, connections: number, unit: () => Promise<void>, units = count): Promise<RawRate> {
  const { result: seconds, cpu } = await measureCpu({}, async () => {
    const started = performance.now();
    await runConcurrently(count, connections, unit);
    return (performance.now() - started) / 1000;
  });
  return { perSecond: units / seconds, cpu };
}

/** A table shaped like `events` (same keys and indexes, no trigger), for raw inserts. */
async function rawTable(client: pg.Client | pg.Pool, name: string): Promise<void> {
  await client.query(`drop table if exists ${name}`);
  await client.query(`create table ${name} (
    stream_id uuid not null, seq bigint not null, id uuid not null, organization_id uuid not null,
    payload jsonb not null, metadata jsonb not null, occurred_at_supplied boolean not null,
    appended_at timestamptz not null default clock_timestamp(), primary key (stream_id, seq))`);
  await client.query(`create unique index on ${name} (organization_id, id)`);
  await client.query(`create index on ${name} (stream_id, (metadata->>'event_type'), seq)`);
  await client.query(`create index on ${name} (stream_id, (metadata->>'occurred_at'))`);
  await client.query(`create index on ${name} (stream_id, appended_at)`);
}

/** Multi-row INSERTs of `batch` rows over `connections` connections; rows/s. */
export async function rawBatchInserts(url: string, rows: number, connections: number, batch = 100): Promise<RawRate> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await rawTable(pool, 'raw_batch');
  const stream = randomUUID();
  const org = randomUUID();
  const payload = JSON.stringify(samplePayload);
  let seq = 0;
  const rate = await timed(rows / batch, connections, async () => {
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let i = 0; i < batch; i++) {
      const at = values.length;
      values.push(stream, ++seq, randomUUID(), org, payload, metadata);
      tuples.push(`($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6}, false)`);
    }
    await pool.query(`insert into raw_batch (stream_id, seq, id, organization_id, payload, metadata, occurred_at_supplied) values ${tuples.join(',')}`, values);
  }, rows);
  await pool.end();
  return rate;
}

/** One row per transaction over `connections` connections; rows/s. */
export async function rawSingleInserts(url: string, rows: number, connections: number): Promise<RawRate> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await rawTable(pool, 'raw_single');
  const stream = randomUUID();
  const org = randomUUID();
  const payload = JSON.stringify(samplePayload);
  let seq = 0;
  const rate = await timed(rows, connections, async () => {
    await pool.query(
      'insert into raw_single (stream_id, seq, id, organization_id, payload, metadata, occurred_at_supplied) values ($1, $2, $3, $4, $5, $6, false)',
      [stream, ++seq, randomUUID(), org, payload, metadata],
    );
  });
  await pool.end();
  return rate;
}

/** Signed keep-alive POSTs with `inFlight` at once, as a webhook sender would make; requests/s. */
export async function rawPosts(receiverUrl: string, count: number, inFlight: number): Promise<number> {
  const url = new URL(receiverUrl);
  const pool = new Pool(url.origin, { connections: inFlight });
  const key = Buffer.alloc(32, 1);
  const started = performance.now();
  await runConcurrently(count, inFlight, async (index) => {
    const id = randomUUID();
    const body = JSON.stringify({ id, stream: 'raw', seq: index + 1, type: 'order_created', payload: samplePayload });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    const response = await pool.request({
      method: 'POST',
      path: url.pathname,
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` },
    });
    await response.body.dump();
  });
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return count / seconds;
}
