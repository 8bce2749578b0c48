import { setTimeout as sleep } from 'node:timers/promises';
import type { PgBoss } from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import { WebhookSender } from './deliver.ts';
import { dispatch, sweep } from './dispatch.ts';
import { runGroup } from './group-runner.ts';
import { GroupSignals } from './group-signals.ts';
import { pruneHistory } from './retention.ts';
import { DISPATCH_QUEUE, type DispatchJob } from './queues.ts';
import { DELIVER_QUEUE, type DeliverJob } from './wake.ts';

export interface WorkerDeps {
  db: Database;
  boss: PgBoss;
  box: SecretBox;
  logger: Logger;
  metrics: Metrics;
  connectionString: string;
  allowPrivateWebhooks: boolean;
  /** How many groups one process delivers to at once. */
  concurrency?: number;
  sweepIntervalMs?: number;
  attemptRetentionDays: number;
}

const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * A dispatch batch is handled at most every 20 ms. Appends NOTIFY the dispatch queue
 * (append-notifier.ts), and a notified pg-boss worker fetches again at once, so under
 * steady ingest the worker looped fetch, dispatch, complete for one or two jobs at a
 * time: with this spacing, 16 single-event clients measured ~3,900 events/s instead of
 * ~3,300 (npm run bench). The first append after a quiet spell is still dispatched at
 * once, and a run that is delivering hears appends to its streams directly (GroupSignals).
 */
const DISPATCH_MIN_SPACING_MS = 20;

export interface Workers {
  /**
   * Stops taking jobs; runs stop starting deliveries, commit what they sent and hand the
   * rest to a fresh job that another worker can take at once. Call before pg-boss stops.
   */
  stop(): Promise<void>;
}

/** Starts the dispatch and delivery workers. pg-boss itself is started and stopped by the caller. */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const signals = new GroupSignals(deps.connectionString, deps.logger);
  await signals.start();
  const sender = new WebhookSender({ allowPrivate: deps.allowPrivateWebhooks });
  const runner = { db: deps.db, boss: deps.boss, sender, box: deps.box, signals, logger: deps.logger, metrics: deps.metrics };
  const shutdown = new AbortController();

  // NOTIFY wakes workers when a job is created; polling is the backstop (and, for the
  // deliver queue, what starts a deferred retry run on time: its start makes no NOTIFY).
  await deps.boss.work<DispatchJob>(DISPATCH_QUEUE, { batchSize: 200, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 }, async (jobs) => {
    const started = performance.now();
    await dispatch(deps.db, deps.boss, jobs);
    const spacing = DISPATCH_MIN_SPACING_MS - (performance.now() - started);
    if (spacing > 0) await sleep(spacing);
  });
  await deps.boss.work<DeliverJob>(
    DELIVER_QUEUE,
    { batchSize: 1, localConcurrency: deps.concurrency ?? 16, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 },
    async ([job]) => {
      if (job) await runGroup(runner, job.data.group_id, AbortSignal.any([job.signal, shutdown.signal]));
    },
  );

  const sweeper = setInterval(() => {
    sweep(deps.db, deps.boss).catch((error: unknown) => deps.logger.warn({ err: error }, 'sweep failed'));
  }, deps.sweepIntervalMs ?? 15_000);
  sweeper.unref();
  const prune = () =>
    pruneHistory(deps.db, deps.attemptRetentionDays).then(
      (pruned) => pruned.attempts + pruned.sessions > 0 && deps.logger.info(pruned, 'pruned old delivery attempts and expired sessions'),
      (error: unknown) => deps.logger.warn({ err: error }, 'pruning failed'),
    );
  // Once soon after start (a process restarted often still prunes), then every interval.
  const firstPrune = setTimeout(() => void prune(), 30_000);
  const pruner = setInterval(() => void prune(), PRUNE_INTERVAL_MS);
  firstPrune.unref();
  pruner.unref();

  return {
    async stop() {
      clearInterval(sweeper);
      clearTimeout(firstPrune);
      clearInterval(pruner);
      shutdown.abort();
      await deps.boss.offWork(DELIVER_QUEUE, { wait: true });
      await deps.boss.offWork(DISPATCH_QUEUE, { wait: true });
      await signals.stop();
      await sender.close();
    },
  };
}
