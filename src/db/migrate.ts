import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator';
import { installBoss } from '../workers/queues.ts';

export const migrationsFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

/** An arbitrary constant that names EventFlow's migration lock among advisory locks. */
const MIGRATION_LOCK_KEY = 7_302_118_844;

/**
 * Applies drizzle's migrations, then pg-boss's schema and queues. Several processes may
 * start at once: a session advisory lock lets one migrate while the others wait, and
 * each then finds nothing left to do.
 */
export async function migrate(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'eventflow-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await drizzleMigrate(drizzle({ client }), { migrationsFolder });
    await installBoss(connectionString);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
