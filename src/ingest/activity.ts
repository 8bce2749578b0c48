import { sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database } from '../db/client.ts';
import type { groupActivitySchema } from './schemas.ts';

/** The last hour, minute by minute, oldest first (60 buckets, the current minute last). */
const LAST_HOUR = sql`generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), interval '1 minute')`;
const HOUR_START = sql`(date_trunc('minute', now()) - interval '59 minutes')`;

/** Events appended per minute: a range scan of events_stream_appended_at_idx. */
export async function streamActivity(db: Database, streamId: string): Promise<{ minute: string; events: number }[]> {
  const { rows } = await db.execute<{ minute: Date; events: number }>(sql`
    with counts as (
      select date_trunc('minute', appended_at) as minute, count(*)::int as events from events
      where stream_id = ${streamId} and appended_at >= ${HOUR_START} group by 1
    )
    select b.minute, coalesce(c.events, 0) as events from ${LAST_HOUR} as b(minute) left join counts c using (minute)
    order by b.minute`);
  return rows.map((row) => ({ minute: new Date(row.minute).toISOString(), events: row.events }));
}

/**
 * Delivery attempts per minute, settled and failed. Attempt ids grow with time, so the
 * scan starts after the last attempt older than the hour and reads only the hour's rows.
 */
export async function groupActivity(db: Database, groupId: string): Promise<{ minute: string; delivered: number; failed: number }[]> {
  const { rows } = await db.execute<{ minute: Date; delivered: number; failed: number }>(sql`
    with counts as (
      select date_trunc('minute', at) as minute,
             count(*) filter (where status = 'delivered')::int as delivered,
             count(*) filter (where status <> 'delivered')::int as failed
      from delivery_attempts
      where group_id = ${groupId} and at >= ${HOUR_START}
        and id > coalesce((select id from delivery_attempts where group_id = ${groupId} and at < ${HOUR_START} order by id desc limit 1), 0)
      group by 1
    )
    select b.minute, coalesce(c.delivered, 0) as delivered, coalesce(c.failed, 0) as failed
    from ${LAST_HOUR} as b(minute) left join counts c using (minute) order by b.minute`);
  return rows.map((row) => ({ minute: new Date(row.minute).toISOString(), delivered: row.delivered, failed: row.failed }));
}

type LastError = NonNullable<z.output<typeof groupActivitySchema>['last_error']>;

/** The group's most recent failed or blocked attempt (delivery_attempts_group_failures_idx). */
export async function lastError(db: Database, groupId: string): Promise<LastError | null> {
  const { rows } = await db.execute<{ stream: string; seq: string; attempt: number; status_code: number | null; error: string | null; at: Date }>(sql`
    select s.name as stream, a.seq, a.attempt, a.status_code, a.error, a.at
    from delivery_attempts a join event_streams s on s.id = a.stream_id
    where a.group_id = ${groupId} and a.status <> 'delivered' order by a.id desc limit 1`);
  const row = rows[0];
  return row ? { stream: row.stream, seq: Number(row.seq), attempt: row.attempt, status_code: row.status_code, error: row.error, at: new Date(row.at).toISOString() } : null;
}
