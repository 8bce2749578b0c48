import { isDeepStrictEqual } from 'node:util';
import { sql } from 'drizzle-orm';
import type { Database, Transaction } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { EventMetadata } from '../db/schema.ts';
import { EventFlowError, notFound } from '../errors.ts';
import type { DispatchJob } from '../workers/queues.ts';

export interface EventToAppend {
  id: string;
  type: string;
  version: number;
  /** Canonical RFC 3339 UTC with milliseconds. */
  occurredAt: string;
  occurredAtSupplied: boolean;
  source: string | null;
  payload: Record<string, unknown>;
  context: Record<string, string>;
}

export interface Appended {
  id: string;
  seq: number;
  duplicate: boolean;
}

export interface AppendTarget {
  organizationId: string;
  streamName: string;
  apiKeyId: string | null;
}

/** Writes the dispatch job inside the append's transaction (pg-boss with fromDrizzle). */
export type EnqueueDispatch = (tx: Transaction, job: DispatchJob) => Promise<unknown>;

/**
 * THE outbox transaction: the events and the job that will dispatch them commit together
 * or not at all.
 *
 * Sequencing: `FOR UPDATE` on the stream row serializes appends to one stream until
 * commit. The next appender reads last_seq only after this one has committed (Postgres
 * releases row locks after the commit is visible), so seqs are gapless, follow commit
 * order, and a reader that has seen seq n never later finds a new event with seq <= n.
 * A rollback undoes the last_seq bump with the rows, so it leaves no gap either.
 */
export async function appendEvents(
  db: Database,
  enqueue: EnqueueDispatch,
  target: AppendTarget,
  batch: EventToAppend[],
): Promise<Appended[]> {
  try {
    return await db.transaction(async (tx) => {
      const stream = await lockStream(tx, target.organizationId, target.streamName);
      const existing = await findExistingEvents(
        tx,
        target.organizationId,
        batch.map((event) => event.id),
      );
      const results: Appended[] = [];
      const fresh: (EventToAppend & { seq: number })[] = [];
      let lastSeq = stream.lastSeq;
      for (const event of batch) {
        const stored = existing.get(event.id);
        if (stored) {
          if (stored.streamId !== stream.id || !sameContent(stored, event)) throw conflict(event.id);
          results.push({ id: event.id, seq: stored.seq, duplicate: true });
          continue;
        }
        lastSeq += 1;
        fresh.push({ ...event, seq: lastSeq });
        results.push({ id: event.id, seq: lastSeq, duplicate: false });
      }
      if (fresh.length > 0) {
        await insertEvents(tx, stream.id, target, fresh);
        await tx.execute(sql`update event_streams set last_seq = ${lastSeq} where id = ${stream.id}`);
        await enqueue(tx, { stream_id: stream.id, first_seq: stream.lastSeq + 1, last_seq: lastSeq });
      }
      return results;
    });
  } catch (error) {
    // Two appends of one id into different streams of an organization can both miss the
    // other's row; the unique index then stops the later one.
    if (isUniqueViolation(error)) throw conflict();
    throw error;
  }
}

const conflict = (id?: string) =>
  new EventFlowError(
    'conflict',
    id ? `event ${id} already exists with different content or in another stream` : 'an event id already exists with different content or in another stream',
  );

async function lockStream(tx: Transaction, organizationId: string, name: string): Promise<{ id: string; lastSeq: number }> {
  const { rows } = await tx.execute<{ id: string; last_seq: string }>(
    sql`select id, last_seq from event_streams where organization_id = ${organizationId} and name = ${name} for update`,
  );
  const row = rows[0];
  if (!row) throw notFound(`stream '${name}'`);
  return { id: row.id, lastSeq: Number(row.last_seq) };
}

interface StoredEvent {
  streamId: string;
  seq: number;
  payload: Record<string, unknown>;
  metadata: EventMetadata;
  occurredAtSupplied: boolean;
}

async function findExistingEvents(tx: Transaction, organizationId: string, ids: string[]): Promise<Map<string, StoredEvent>> {
  const { rows } = await tx.execute<{
    id: string;
    stream_id: string;
    seq: string;
    payload: Record<string, unknown>;
    metadata: EventMetadata;
    occurred_at_supplied: boolean;
  }>(
    sql`select id, stream_id, seq, payload, metadata, occurred_at_supplied from events
        where organization_id = ${organizationId} and id = any(${sql.param(ids)}::uuid[])`,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        streamId: row.stream_id,
        seq: Number(row.seq),
        payload: row.payload,
        metadata: row.metadata,
        occurredAtSupplied: row.occurred_at_supplied,
      },
    ]),
  );
}

/** A resend is the same event when every field matches; occurred_at only when both carry one. */
function sameContent(stored: StoredEvent, event: EventToAppend): boolean {
  const meta = stored.metadata;
  return (
    meta.event_type === event.type &&
    meta.event_version === event.version &&
    meta.source === event.source &&
    isDeepStrictEqual(meta.context, event.context) &&
    isDeepStrictEqual(stored.payload, event.payload) &&
    (!stored.occurredAtSupplied || !event.occurredAtSupplied || meta.occurred_at === event.occurredAt)
  );
}

/** One statement for the whole batch: the rows travel as one jsonb array parameter. */
async function insertEvents(
  tx: Transaction,
  streamId: string,
  target: AppendTarget,
  fresh: (EventToAppend & { seq: number })[],
): Promise<void> {
  const rows = fresh.map((event) => ({
    seq: event.seq,
    id: event.id,
    payload: event.payload,
    supplied: event.occurredAtSupplied,
    metadata: {
      event_type: event.type,
      event_version: event.version,
      occurred_at: event.occurredAt,
      source: event.source,
      api_key_id: target.apiKeyId,
      context: event.context,
    } satisfies EventMetadata,
  }));
  await tx.execute(sql`
    insert into events (stream_id, seq, id, organization_id, payload, metadata, occurred_at_supplied)
    select ${streamId}, r.seq, r.id, ${target.organizationId}, r.payload, r.metadata, r.supplied
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as r(seq bigint, id uuid, payload jsonb, metadata jsonb, supplied boolean)`);
}
