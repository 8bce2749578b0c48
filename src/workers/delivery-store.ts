import { sql } from 'drizzle-orm';
import { withTransaction, type Database, type Transaction } from '../db/client.ts';
import type { DeliverySettings, EventMetadata } from '../db/schema.ts';
import type { SecretBox } from '../secrets.ts';

/** The hand-written SQL of a delivery run: what it reads, and the one commit per chunk. */

export interface GroupConfig {
  id: string;
  organizationId: string;
  status: 'active' | 'paused';
  webhookUrl: string;
  eventTypes: string[];
  delivery: DeliverySettings;
  secrets: string[];
}

export interface StreamOffset {
  streamId: string;
  streamName: string;
  cursorSeq: number;
  committedSeq: number;
  generation: number;
  lastSeq: number;
}

export interface RetryRow {
  streamId: string;
  seq: number;
  eventId: string;
  attempts: number;
  budgetUsed: number;
  nextAttemptAt: Date;
  deadLetterId: string | null;
}

export interface StoredEvent {
  streamId: string;
  seq: number;
  id: string;
  payload: Record<string, unknown>;
  metadata: EventMetadata;
}

/** SECRET_OVERLAP: a retired secret keeps signing beside the new one for 24 h. */
export async function loadGroup(db: Database, groupId: string, box: SecretBox): Promise<GroupConfig | undefined> {
  const { rows } = await db.execute<{
    id: string;
    organization_id: string;
    status: 'active' | 'paused';
    webhook_url: string;
    event_types: string[];
    delivery: DeliverySettings;
    secrets: string[] | null;
  }>(sql`
    select g.id, g.organization_id, g.status, g.webhook_url, g.event_types, g.delivery,
      (select array_agg(s.secret_encrypted order by s.created_at desc) from consumer_group_secrets s
        where s.group_id = g.id and (s.retired_at is null or s.retired_at > now() - interval '24 hours')) as secrets
    from consumer_groups g where g.id = ${groupId} and g.deleted_at is null`);
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    organizationId: row.organization_id,
    status: row.status,
    webhookUrl: row.webhook_url,
    eventTypes: row.event_types,
    delivery: row.delivery,
    secrets: (row.secrets ?? []).map((sealed) => box.open(sealed)),
  };
}

export async function loadOffsets(db: Database, groupId: string): Promise<StreamOffset[]> {
  const { rows } = await db.execute<{ stream_id: string; name: string; cursor_seq: string; committed_seq: string; generation: string; last_seq: string }>(sql`
    select o.stream_id, s.name, o.cursor_seq, o.committed_seq, o.generation, s.last_seq
    from consumer_offsets o join event_streams s on s.id = o.stream_id
    where o.group_id = ${groupId} order by s.name`);
  return rows.map((row) => ({
    streamId: row.stream_id,
    streamName: row.name,
    cursorSeq: Number(row.cursor_seq),
    committedSeq: Number(row.committed_seq),
    generation: Number(row.generation),
    lastSeq: Number(row.last_seq),
  }));
}

export async function loadRetries(db: Database, groupId: string): Promise<RetryRow[]> {
  const { rows } = await db.execute<{
    stream_id: string;
    seq: string;
    event_id: string;
    attempts: number;
    budget_used: number;
    next_attempt_at: string;
    dead_letter_id: string | null;
  }>(sql`
    select stream_id, seq, event_id, attempts, budget_used, next_attempt_at, dead_letter_id
    from delivery_retries where group_id = ${groupId} order by stream_id, seq`);
  return rows.map((row) => ({
    streamId: row.stream_id,
    seq: Number(row.seq),
    eventId: row.event_id,
    attempts: row.attempts,
    budgetUsed: row.budget_used,
    nextAttemptAt: new Date(row.next_attempt_at),
    deadLetterId: row.dead_letter_id,
  }));
}

type EventRow = { stream_id: string; seq: string; id: string; payload: Record<string, unknown>; metadata: EventMetadata };
const toEvent = (row: EventRow): StoredEvent => ({
  streamId: row.stream_id,
  seq: Number(row.seq),
  id: row.id,
  payload: row.payload,
  metadata: row.metadata,
});

/** The next matching events after the cursor, read straight from the event store. */
export async function readNewEvents(
  db: Database,
  offset: StreamOffset,
  eventTypes: string[],
  limit: number,
): Promise<StoredEvent[]> {
  const typeFilter = eventTypes.length > 0 ? sql`and metadata->>'event_type' = any(${sql.param(eventTypes)}::text[])` : sql``;
  const { rows } = await db.execute<EventRow>(sql`
    select stream_id, seq, id, payload, metadata from events
    where stream_id = ${offset.streamId} and seq > ${offset.cursorSeq} and seq <= ${offset.lastSeq} ${typeFilter}
    order by seq limit ${limit}`);
  return rows.map(toEvent);
}

export async function readEventsBySeq(db: Database, streamId: string, seqs: number[]): Promise<StoredEvent[]> {
  if (seqs.length === 0) return [];
  const { rows } = await db.execute<EventRow>(sql`
    select stream_id, seq, id, payload, metadata from events
    where stream_id = ${streamId} and seq = any(${sql.param(seqs)}::bigint[])`);
  return rows.map(toEvent);
}

// --- the commit ---------------------------------------------------------------------------

export class FencedError extends Error {
  constructor() {
    super('the offsets changed under this run (reset, or another run); its results are dropped');
    this.name = 'FencedError';
  }
}

export interface AttemptRecord {
  streamId: string;
  seq: number;
  eventId: string;
  attempt: number;
  status: 'delivered' | 'failed' | 'blocked';
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
}

/** A retry row as a chunk writes it: with the failure that put it there. */
export interface RetryUpdate extends RetryRow {
  lastError: string | null;
  lastStatusCode: number | null;
}

export interface DeadLetterUpdate {
  streamId: string;
  seq: number;
  eventId: string;
  attempts: number;
  lastError: string | null;
  lastStatusCode: number | null;
  /** Set when an operator retry failed again: that dead letter goes back to pending. */
  deadLetterId: string | null;
}

export interface ChunkResult {
  groupId: string;
  organizationId: string;
  attempts: AttemptRecord[];
  /** Retry rows that are settled now (delivered, or moved to dead letters). */
  clearedRetries: { streamId: string; seq: number }[];
  retries: RetryUpdate[];
  deadLetters: DeadLetterUpdate[];
  resolvedDeadLetters: string[];
  /** Per stream: the generation the run read, and the cursor it reached. */
  cursors: { streamId: string; generation: number; cursorSeq: number }[];
}

/**
 * Records a chunk in one transaction. It first bumps each touched offset's generation,
 * but only if it is still the one the run read: a reset or another run in between makes
 * the whole commit roll back (FencedError), so a stale run can never move an offset.
 * The watermark is recomputed from what is left waiting and only moves forward.
 */
export async function commitChunk(db: Database, chunk: ChunkResult, newDeadLetterId: () => string): Promise<void> {
  await withTransaction(db, async (tx) => {
    for (const cursor of chunk.cursors) {
      const { rows } = await tx.execute(sql`
        update consumer_offsets set generation = generation + 1
        where group_id = ${chunk.groupId} and stream_id = ${cursor.streamId} and generation = ${cursor.generation}
        returning 1`);
      if (rows.length === 0) throw new FencedError();
    }
    await insertAttempts(tx, chunk.groupId, chunk.attempts);
    for (const cleared of chunk.clearedRetries) {
      await tx.execute(sql`delete from delivery_retries
        where group_id = ${chunk.groupId} and stream_id = ${cleared.streamId} and seq = ${cleared.seq}`);
    }
    for (const retry of chunk.retries) {
      await tx.execute(sql`
        insert into delivery_retries (group_id, stream_id, seq, event_id, attempts, budget_used, next_attempt_at, last_error, last_status_code, dead_letter_id)
        values (${chunk.groupId}, ${retry.streamId}, ${retry.seq}, ${retry.eventId}, ${retry.attempts}, ${retry.budgetUsed},
          ${retry.nextAttemptAt.toISOString()}, ${retry.lastError}, ${retry.lastStatusCode}, ${retry.deadLetterId})
        on conflict (group_id, stream_id, seq) do update set attempts = excluded.attempts, budget_used = excluded.budget_used,
          next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, last_status_code = excluded.last_status_code`);
    }
    for (const dead of chunk.deadLetters) await recordDeadLetter(tx, chunk, dead, newDeadLetterId);
    if (chunk.resolvedDeadLetters.length > 0) {
      await tx.execute(sql`update dead_letter_events set status = 'resolved'
        where id = any(${sql.param(chunk.resolvedDeadLetters)}::uuid[]) and status = 'retrying'`);
    }
    for (const cursor of chunk.cursors) {
      await tx.execute(sql`
        update consumer_offsets set
          cursor_seq = greatest(cursor_seq, ${cursor.cursorSeq}),
          committed_seq = greatest(committed_seq, coalesce(
            (select min(seq) - 1 from delivery_retries
              where group_id = ${chunk.groupId} and stream_id = ${cursor.streamId} and dead_letter_id is null),
            greatest(cursor_seq, ${cursor.cursorSeq}))),
          updated_at = now()
        where group_id = ${chunk.groupId} and stream_id = ${cursor.streamId}`);
    }
  });
}

async function insertAttempts(tx: Transaction, groupId: string, attempts: AttemptRecord[]): Promise<void> {
  if (attempts.length === 0) return;
  const rows = attempts.map((a) => ({
    stream_id: a.streamId,
    seq: a.seq,
    event_id: a.eventId,
    attempt: a.attempt,
    status: a.status,
    status_code: a.statusCode,
    error: a.error,
    response_body: a.responseBody,
    duration_ms: a.durationMs,
  }));
  await tx.execute(sql`
    insert into delivery_attempts (group_id, stream_id, seq, event_id, attempt, status, status_code, error, response_body, duration_ms)
    select ${groupId}, r.stream_id, r.seq, r.event_id, r.attempt, r.status, r.status_code, r.error, r.response_body, r.duration_ms
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(stream_id uuid, seq bigint, event_id uuid, attempt int,
      status text, status_code int, error text, response_body text, duration_ms int)`);
}

async function recordDeadLetter(tx: Transaction, chunk: ChunkResult, dead: DeadLetterUpdate, newId: () => string): Promise<void> {
  if (dead.deadLetterId) {
    await tx.execute(sql`update dead_letter_events set status = 'pending', attempts = ${dead.attempts},
      last_error = ${dead.lastError}, last_status_code = ${dead.lastStatusCode}, dead_lettered_at = now()
      where id = ${dead.deadLetterId} and status = 'retrying'`);
    return;
  }
  // A replay can dead-letter the same event again: the existing row is reopened.
  await tx.execute(sql`
    insert into dead_letter_events (id, organization_id, group_id, stream_id, event_id, seq, attempts, last_error, last_status_code, status)
    values (${newId()}, ${chunk.organizationId}, ${chunk.groupId}, ${dead.streamId}, ${dead.eventId}, ${dead.seq}, ${dead.attempts},
      ${dead.lastError}, ${dead.lastStatusCode}, 'pending')
    on conflict (group_id, stream_id, seq) do update set status = 'pending', attempts = excluded.attempts,
      last_error = excluded.last_error, last_status_code = excluded.last_status_code, dead_lettered_at = now(), retried_at = null`);
}
