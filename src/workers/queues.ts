import { PgBoss, type Queue } from 'pg-boss';

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
    application_name: 'eventflow-boss',
  });
}

/** Installs or upgrades pg-boss's schema and creates EventFlow's queues; idempotent. */
export async function installBoss(connectionString: string): Promise<void> {
  const boss = new PgBoss({ connectionString, max: 2, migrate: true, supervise: false, schedule: false });
  await boss.start();
  try {
    for (const { name, ...options } of queues) await boss.createQueue(name, options);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}
