import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.ts';

export type Database = NodePgDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * An idle client whose server goes away (a restart, a failover) emits 'error' on the
 * pool; unhandled, that would crash the process. The pool drops that client by itself.
 */
export function createPool(connectionString: string, max = 10, onIdleError?: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'eventflow' });
  pool.on('error', (error) => onIdleError?.(error));
  return pool;
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle({ client: pool, schema });
}
