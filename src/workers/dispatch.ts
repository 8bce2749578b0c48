import { sql } from 'drizzle-orm';
import type { Job, PgBoss } from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { DispatchJob } from './queues.ts';
import { wakeGroup } from './wake.ts';

/**
 * Fans appends out to the groups subscribed to their streams. A batch of dispatch jobs
 * (one per append) becomes one wake-up per active group, which is all a group needs: its
 * run reads every event after its cursor straight from the events table.
 */
export async function dispatch(db: Database, boss: PgBoss, jobs: Job<DispatchJob>[]): Promise<void> {
  const streamIds = [...new Set(jobs.map((job) => job.data.stream_id))];
  const groupIds = await activeGroupsOf(db, streamIds);
  for (const groupId of groupIds) await wakeGroup(boss, groupId);
}

async function activeGroupsOf(db: Database, streamIds: string[]): Promise<string[]> {
  const { rows } = await db.execute<{ group_id: string }>(sql`
    select distinct o.group_id from consumer_offsets o join consumer_groups g on g.id = o.group_id
    where o.stream_id = any(${sql.param(streamIds)}::uuid[]) and g.status = 'active' and g.deleted_at is null`);
  return rows.map((row) => row.group_id);
}

/**
 * Defence in depth for guarantee 2: every interval, wake each active group that has
 * events past its cursor or a retry that is due, in case a wake-up was ever lost.
 */
export async function sweep(db: Database, boss: PgBoss): Promise<number> {
  const { rows } = await db.execute<{ id: string }>(sql`
    select g.id from consumer_groups g
    where g.status = 'active' and g.deleted_at is null and (
      exists (select 1 from consumer_offsets o join event_streams s on s.id = o.stream_id
              where o.group_id = g.id and o.cursor_seq < s.last_seq)
      or exists (select 1 from delivery_retries r where r.group_id = g.id and r.next_attempt_at <= now()))`);
  for (const row of rows) await wakeGroup(boss, row.id);
  return rows.length;
}
