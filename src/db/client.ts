import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { isDatabaseUnavailable } from './errors.ts';
import * as schema from './schema.ts';

export type Database = NodePgDatabase<typeof schema> & { $client: pg.Pool | pg.PoolClient };
/** A Database bound to one connection inside BEGIN ... COMMIT (see withTransaction). */
export type Transaction = Database;

/**
 * A client whose server goes away (a restart, a failover) emits 'error': on the pool
 * while idle, on itself while checked out (inside a transaction). Unhandled, either would
 * crash the process; the query in flight fails on its own and the pool drops the client.
 */
export function createPool(connectionString: string, max = 10, onLostConnection?: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'eventflow' });
  const report = (error: Error) => onLostConnection?.(error);
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
  return pool;
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle({ client: pool, schema });
}

/**
 * Runs `work` in a transaction on one pooled connection. drizzle's own transaction()
 * leaks the connection when BEGIN fails and returns a broken one to the pool; here a
 * connection that failed is destroyed instead of reused (a Postgres restart otherwise
 * leaves dead clients behind, and pool.end() waits for them forever).
 */
export async function withTransaction<T>(db: Database, work: (tx: Transaction) => Promise<T>): Promise<T> {
  const pool = db.$client as pg.Pool;
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(drizzle({ client, schema }));
    await client.query('commit');
    return result;
  } catch (error) {
    failure = error as Error;
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release(failure && isDatabaseUnavailable(failure) ? failure : undefined);
  }
}
