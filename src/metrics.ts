import { sql } from 'drizzle-orm';
import type { PgBoss } from 'pg-boss';
import client from 'prom-client';
import type { Database } from './db/client.ts';
import type { Logger } from './logger.ts';
import { DISPATCH_QUEUE } from './workers/queues.ts';
import { DELIVER_QUEUE } from './workers/wake.ts';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The process's Prometheus metrics. Labels stay bounded: organizations, streams and
 * groups (ids), routes and outcomes; never event ids or URLs.
 */
export class Metrics {
  readonly registry = new client.Registry();
  readonly eventsIngested = new client.Counter({
    name: 'eventflow_events_ingested_total',
    help: 'Events appended (duplicates not counted)',
    labelNames: ['org', 'stream'],
    registers: [this.registry],
  });
  readonly appendCommitEvents = new client.Histogram({
    name: 'eventflow_append_commit_events',
    help: 'Events per append commit: concurrent appends to one stream share a commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000],
    registers: [this.registry],
  });
  readonly requestDuration = new client.Histogram({
    name: 'eventflow_http_request_duration_seconds',
    help: 'HTTP request latency, ingest routes included',
    labelNames: ['route', 'method', 'status'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly deliveries = new client.Counter({
    name: 'eventflow_deliveries_total',
    help: 'Delivery attempts by outcome (delivered, failed, blocked)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly attemptDuration = new client.Histogram({
    name: 'eventflow_delivery_attempt_duration_seconds',
    help: 'Webhook POST latency by outcome',
    labelNames: ['outcome'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly deadLettered = new client.Counter({
    name: 'eventflow_dead_lettered_total',
    help: 'Events moved to dead letters',
    registers: [this.registry],
  });
  readonly lag = new client.Gauge({
    name: 'eventflow_consumer_lag',
    help: 'last_seq - committed_seq per active group and stream (refreshed every 10 s)',
    labelNames: ['group', 'stream'],
    registers: [this.registry],
  });
  readonly deadLettersPending = new client.Gauge({
    name: 'eventflow_dead_letters_pending',
    help: 'Pending dead letters per group (refreshed every 10 s)',
    labelNames: ['group'],
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'eventflow_queue_jobs',
    help: 'pg-boss jobs per queue and state (refreshed every 10 s)',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'eventflow_' });
  }

  /** Gauges that need SQL are read on an interval, not per scrape. */
  async refresh(db: Database, boss: PgBoss): Promise<void> {
    const lag = await db.execute<{ group_id: string; stream: string; lag: string }>(sql`
      select o.group_id, s.name as stream, s.last_seq - o.committed_seq as lag
      from consumer_offsets o join event_streams s on s.id = o.stream_id
      join consumer_groups g on g.id = o.group_id where g.deleted_at is null`);
    const pending = await db.execute<{ group_id: string; n: string }>(sql`
      select group_id, count(*) as n from dead_letter_events where status = 'pending' group by group_id`);
    const queues = await boss.getQueues([DISPATCH_QUEUE, DELIVER_QUEUE]);
    this.lag.reset();
    for (const row of lag.rows) this.lag.set({ group: row.group_id, stream: row.stream }, Number(row.lag));
    this.deadLettersPending.reset();
    for (const row of pending.rows) this.deadLettersPending.set({ group: row.group_id }, Number(row.n));
    for (const queue of queues) {
      this.queueDepth.set({ queue: queue.name, state: 'queued' }, queue.queuedCount);
      this.queueDepth.set({ queue: queue.name, state: 'active' }, queue.activeCount);
    }
  }

  startRefreshing(db: Database, boss: PgBoss, logger: Logger, intervalMs = 10_000): () => void {
    const refresh = () => {
      this.refresh(db, boss).catch((error: unknown) => logger.warn({ err: error }, 'metrics refresh failed'));
    };
    refresh();
    const timer = setInterval(refresh, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
