import { PgBoss, type Queue } from 'pg-boss';
import { DELIVER_QUEUE } from './wake.ts';

/**
 * The job that ingest writes in its own transaction: "stream S has events up to seq N".
 * One job per append, however many events it holds; dispatch fans it out.
 */
export const DISPATCH_QUEUE = 'dispatch';

export interface DispatchJob {
  stream_id: string;
  first_seq: number;
  last_seq: number;
}

const queues: Queue[] = [
  {
    name: DISPATCH_QUEUE,
    // Its own table keeps a dispatch backlog from slowing fetches on other queues.
    partition: true,
    notify: true,
    retryLimit: 1000,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    expireInSeconds: 300,
  },
  {
    name: DELIVER_QUEUE,
    // One active run per group (its key) is what makes a group's offsets single-writer
    // and its ordered streams ordered; one more may wait behind it.
    policy: 'stately',
    notify: true,
    retryLimit: 1000,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 30,
    // A run hands over after RUN_MAX_MS (5 min) plus at most one chunk, so a live run
    // never nears this; a crashed worker's run is noticed by its missing heartbeat (10 s).
    expireInSeconds: 600,
    heartbeatSeconds: 10,
  },
];

export interface BossOptions {
  connectionString: string;
  /** Workers supervise (maintenance, expiry); an API process only sends jobs. */
  supervise: boolean;
  max?: number;
}

export function createBoss({ connectionString, supervise, max = 10 }: BossOptions): PgBoss {
  return new PgBoss({
    connectionString,
    max,
    migrate: false,
    supervise,
    schedule: false,
    useListenNotify: supervise,
    // A crashed worker's run is failed (and retried elsewhere) by the monitor once its
    // heartbeat is missing; a short interval keeps that within ~15 s.
    superviseIntervalSeconds: 5,
    monitorIntervalSeconds: 5,
    application_name: 'eventflow-boss',
  });
}

/** Installs or upgrades pg-boss's schema and creates EventFlow's queues; idempotent. */
export async function installBoss(connectionString: string): Promise<void> {
  const boss = new PgBoss({ connectionString, max: 2, migrate: true, supervise: false, schedule: false });
  await boss.start();
  try {
    for (const { name, policy: _policy, partition: _partition, ...options } of queues) {
      await boss.createQueue(name, { policy: _policy, partition: _partition, ...options });
      // createQueue leaves an existing queue as it was; settings changed since then apply here.
      await boss.updateQueue(name, options);
    }
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}
