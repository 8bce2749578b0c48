import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';

/** Rows deleted per statement: short transactions, so pruning never holds much at once. */
const PRUNE_BATCH = 5_000;

/**
 * Deletes delivery attempts older than the retention and expired console sessions. Every
 * delivery writes an attempt row (6,000/s in the benchmark), so without this the table
 * only grows. Attempt ids grow with time: each statement looks only at the oldest
 * PRUNE_BATCH rows, and the loop ends at the first batch that is not all old. Workers
 * run it side by side safely: SKIP LOCKED gives them different rows.
 */
export async function pruneHistory(db: Database, retentionDays: number): Promise<{ attempts: number; sessions: number }> {
  let attempts = 0;
  for (;;) {
    const { rowCount } = await db.execute(sql`
      delete from delivery_attempts where id in (
        select id from delivery_attempts order by id limit ${PRUNE_BATCH} for update skip locked
      ) and at < now() - make_interval(days => ${retentionDays})`);
    attempts += rowCount ?? 0;
    if ((rowCount ?? 0) < PRUNE_BATCH) break;
  }
  const sessions = await db.execute(sql`delete from sessions where expires_at < now()`);
  return { attempts, sessions: sessions.rowCount ?? 0 };
}
