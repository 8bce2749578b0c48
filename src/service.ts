import type { AddressInfo } from 'node:net';
import { readOrCreateAdminToken } from './admin-token.ts';
import type { Config } from './config.ts';
import { createDatabase, createPool } from './db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { buildApp } from './ingest/app.ts';
import type { Readiness } from './ingest/routes/ops.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { SecretBox, loadSecretKey } from './secrets.ts';
import { startWorkers, type Workers } from './workers/index.ts';
import { createBoss } from './workers/queues.ts';

export interface Service {
  /** The HTTP address: the API, or for a worker-only process its health and metrics. */
  url: string;
  /** Stops taking work, finishes what is in flight within the bound, then closes everything. */
  stop(): Promise<void>;
}

/** Starts what the role asks for: the database (embedded or not), migrations, API, workers. */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.EVENTFLOW_DATA_DIR, config.EVENTFLOW_PG_PORT, logger);
    databaseUrl = embedded.url;
  }

  let platformToken = config.EVENTFLOW_ADMIN_TOKEN;
  if (!platformToken) {
    const generated = await readOrCreateAdminToken(config.EVENTFLOW_DATA_DIR);
    platformToken = generated.token;
    // Printed at every start and at any LOG_LEVEL, as the contract says: the path, never the token.
    process.stderr.write(`eventflow: platform admin token is in ${generated.file}\n`);
  }

  const box = new SecretBox(await loadSecretKey(config.EVENTFLOW_SECRET_KEY, config.EVENTFLOW_DATA_DIR));
  await migrate(databaseUrl);
  const pool = createPool(databaseUrl, 20, (error) => logger.warn({ err: error }, 'idle database connection lost'));
  const db = createDatabase(pool);
  const withWorkers = config.EVENTFLOW_ROLE !== 'api';
  const boss = createBoss({ connectionString: databaseUrl, supervise: withWorkers });
  boss.on('error', (error) => logger.error({ err: error }, 'pg-boss error'));
  await boss.start();
  let queueRunning = true;
  boss.on('stopped', () => (queueRunning = false));

  const readiness = async (): Promise<Readiness> => {
    const database = await pool.query('select 1').then(
      () => true,
      () => false,
    );
    const checks: Record<string, boolean> = { database, migrations: true, queue: queueRunning };
    return { ready: Object.values(checks).every(Boolean), checks };
  };

  const metrics = new Metrics();
  const stopRefreshing = metrics.startRefreshing(db, boss, logger);
  let workers: Workers | undefined;
  if (withWorkers) {
    workers = await startWorkers({
      db,
      boss,
      box,
      logger,
      metrics,
      connectionString: databaseUrl,
      allowPrivateWebhooks: config.WEBHOOK_ALLOW_PRIVATE,
      attemptRetentionDays: config.DELIVERY_ATTEMPT_RETENTION_DAYS,
    });
    logger.info({ role: config.EVENTFLOW_ROLE }, 'eventflow workers started');
  }

  // A worker-only process serves /healthz, /readyz and /metrics on the same address.
  const serveApi = config.EVENTFLOW_ROLE !== 'worker';
  const app = await buildApp({ db, boss, config, logger, box, metrics, platformToken, readiness, serveApi });
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, role: config.EVENTFLOW_ROLE }, 'eventflow listening');

  return {
    url,
    async stop() {
      stopRefreshing();
      await app.close();
      await workers?.stop();
      await boss.stop({ graceful: true, timeout: config.SHUTDOWN_TIMEOUT_MS, close: true });
      await pool.end();
      await embedded?.stop();
    },
  };
}
