import { Writable } from 'node:stream';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { loadConfig, type Config } from '../../src/config.ts';
import { createDatabase, createPool, type Database } from '../../src/db/client.ts';
import { buildApp, type App } from '../../src/ingest/app.ts';
import { createLogger } from '../../src/logger.ts';
import { Metrics } from '../../src/metrics.ts';
import { SecretBox } from '../../src/secrets.ts';
import { startWorkers, type Workers } from '../../src/workers/index.ts';
import { createBoss } from '../../src/workers/queues.ts';
import { createTestDatabase } from './db.ts';

export const PLATFORM_TOKEN = 'test-platform-token-0123456789';
export const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestApp {
  url: string;
  databaseUrl: string;
  app: App;
  db: Database;
  pool: pg.Pool;
  boss: PgBoss;
  config: Config;
  box: SecretBox;
  metrics: Metrics;
  workers: Workers | undefined;
  /** Every log line the app wrote, for tests that search them. */
  logs: string[];
  close(): Promise<void>;
}

/** The real HTTP API on 127.0.0.1 over its own cloned database (or the given one). */
export async function startTestApp(
  options: { databaseUrl?: string; env?: Record<string, string>; workers?: boolean } = {},
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    EVENTFLOW_ADMIN_TOKEN: PLATFORM_TOKEN,
    EVENTFLOW_SECRET_KEY: SECRET_KEY,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger(config.LOG_LEVEL, sink);
  const pool = createPool(databaseUrl, 10, (error) => logger.warn({ err: error }, 'idle database connection lost'));
  const db = createDatabase(pool);
  const box = new SecretBox(Buffer.from(SECRET_KEY, 'base64'));
  const metrics = new Metrics();
  const boss = createBoss({ connectionString: databaseUrl, supervise: options.workers ?? false });
  boss.on('error', (error) => logger.error({ err: error }, 'pg-boss error'));
  await boss.start();
  const workers = options.workers
    ? await startWorkers({ db, boss, box, logger, metrics, connectionString: databaseUrl, allowPrivateWebhooks: config.WEBHOOK_ALLOW_PRIVATE, sweepIntervalMs: 2_000, attemptRetentionDays: config.DELIVERY_ATTEMPT_RETENTION_DAYS })
    : undefined;
  const app = await buildApp({
    db,
    boss,
    config,
    logger,
    box,
    metrics,
    platformToken: PLATFORM_TOKEN,
    readiness: async () => ({ ready: true, checks: {} }),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    databaseUrl,
    app,
    db,
    pool,
    boss,
    config,
    box,
    metrics,
    workers,
    logs,
    async close() {
      await app.close();
      await workers?.stop();
      await boss.stop({ graceful: false, close: true });
      await pool.end();
    },
  };
}
