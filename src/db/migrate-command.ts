import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';

/** `eventflow migrate`: the service's migrations, on the configured database, then exit. */
export async function runMigrations(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const embedded = config.DATABASE_URL ? undefined : await startEmbeddedPostgres(config.EVENTFLOW_DATA_DIR, config.EVENTFLOW_PG_PORT, logger);
  try {
    await migrate(config.DATABASE_URL ?? embedded!.url);
    process.stdout.write('migrations applied\n');
  } finally {
    await embedded?.stop();
  }
}
