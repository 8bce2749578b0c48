import { sql, type SQL } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { withTransaction, type Database, type Transaction } from '../../db/client.ts';
import { EventFlowError, notFound } from '../../errors.ts';
import { wakeGroup } from '../../workers/wake.ts';
import { organizationOf } from '../app.ts';
import { readGroup, signalGroupChange } from '../groups.ts';
import { decodeCursor, encodeCursor } from '../pagination.ts';
import { bulkRetrySchema, deadLetterQuerySchema, deadLetterSchema, idParamsSchema, pageOf, problemSchema } from '../schemas.ts';
import { findStream } from './streams.ts';

type DeadLetterRow = {
  id: string;
  group_id: string;
  stream: string;
  event_id: string;
  seq: string;
  attempts: number;
  last_error: string | null;
  last_status_code: number | null;
  status: 'pending' | 'retrying' | 'resolved' | 'discarded';
  dead_lettered_at: string;
  retried_at: string | null;
};

const present = (row: DeadLetterRow) => ({
  ...row,
  seq: Number(row.seq),
  dead_lettered_at: new Date(row.dead_lettered_at).toISOString(),
  retried_at: row.retried_at ? new Date(row.retried_at).toISOString() : null,
});

async function selectDeadLetters(db: Database  , organizationId: string, where: SQL, limit: number): Promise<DeadLetterRow[]> {
  const { rows } = await db.execute<DeadLetterRow>(sql`
    select d.id, d.group_id, s.name as stream, d.event_id, d.seq, d.attempts, d.last_error, d.last_status_code, d.status,
      d.dead_lettered_at, d.retried_at
    from dead_letter_events d join event_streams s on s.id = d.stream_id
    where d.organization_id = ${organizationId} and ${where}
    order by d.id limit ${limit}`);
  return rows;
}

/**
 * The group and stream filters of a dead-letter query. A group or stream of another
 * organization answers 404, exactly as one that does not exist.
 */
async function scopeFilters(db: Database, organizationId: string, groupId?: string, stream?: string): Promise<(SQL | undefined)[]> {
  if (groupId) await readGroup(db, organizationId, groupId);
  const streamId = stream ? (await findStream(db, organizationId, stream)).id : undefined;
  return [groupId ? sql`d.group_id = ${groupId}` : undefined, streamId ? sql`d.stream_id = ${streamId}` : undefined];
}

const allOf = (parts: (SQL | undefined)[]): SQL =>
  sql.join(
    [sql`true`, ...parts.filter((part) => part !== undefined)],
    sql` and `,
  );

/**
 * Moves pending dead letters to `retrying` and queues each for delivery with a fresh
 * attempt budget. The conditional update is the lock: of two operators retrying one dead
 * letter at once, one moves it and the other finds nothing pending, so it is sent once.
 */
async function queueRetries(tx: Transaction, organizationId: string, where: SQL): Promise<{ count: number; groups: string[] }> {
  const { rows } = await tx.execute<{ id: string; group_id: string }>(sql`
    with moved as (
      update dead_letter_events d set status = 'retrying', retried_at = now()
      where d.organization_id = ${organizationId} and d.status = 'pending' and ${where}
      returning d.id, d.group_id, d.stream_id, d.seq, d.event_id, d.attempts
    ), queued as (
      insert into delivery_retries (group_id, stream_id, seq, event_id, attempts, budget_used, next_attempt_at, dead_letter_id)
      select group_id, stream_id, seq, event_id, attempts, 0, now(), id from moved
      on conflict (group_id, stream_id, seq) do nothing
    )
    select id, group_id from moved`);
  const groups = [...new Set(rows.map((row) => row.group_id))];
  // A run that is already delivering for the group picks the retries up at once.
  for (const groupId of groups) await signalGroupChange(tx, groupId);
  return { count: rows.length, groups };
}

export const deadLetterRoutes: FastifyPluginAsyncZod<{ db: Database; boss: PgBoss }> = async (app, { db, boss }) => {
  app.get(
    '/v1/dead-letters',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List dead letters',
        tags: ['dead-letters'],
        querystring: deadLetterQuerySchema,
        response: { 200: pageOf(deadLetterSchema), 404: problemSchema },
      },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const { limit, cursor, group_id, stream, status } = request.query;
      const after = decodeCursor(cursor, z.uuid());
      const where = allOf([
        ...(await scopeFilters(db, organizationId, group_id, stream)),
        status ? sql`d.status = ${status}` : undefined,
        after ? sql`d.id > ${after}` : undefined,
      ]);
      const rows = await selectDeadLetters(db, organizationId, where, limit + 1);
      const page = rows.slice(0, limit);
      return { data: page.map(present), next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.id) : null };
    },
  );

  app.get(
    '/v1/dead-letters/:id',
    {
      config: { auth: 'read' },
      schema: { summary: 'Show a dead letter', tags: ['dead-letters'], params: idParamsSchema, response: { 200: deadLetterSchema, 404: problemSchema } },
    },
    async (request) => {
      const [row] = await selectDeadLetters(db, organizationOf(request), sql`d.id = ${request.params.id}`, 1);
      if (!row) throw notFound('dead letter');
      return present(row);
    },
  );

  app.post(
    '/v1/dead-letters/:id/retry',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Deliver a dead letter again, with a fresh attempt budget',
        tags: ['dead-letters'],
        params: idParamsSchema,
        response: { 202: deadLetterSchema, 404: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const id = request.params.id;
      const row = await withTransaction(db, async (tx) => {
        await queueRetries(tx, organizationId, sql`d.id = ${id}`);
        const [current] = await selectDeadLetters(tx, organizationId, sql`d.id = ${id}`, 1);
        if (!current) throw notFound('dead letter');
        if (current.status !== 'retrying') throw new EventFlowError('conflict', `the dead letter is ${current.status}, not pending`);
        return current;
      });
      await wakeGroup(boss, row.group_id);
      return reply.code(202).send(present(row));
    },
  );

  app.post(
    '/v1/dead-letters/retry',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Retry every pending dead letter that matches',
        tags: ['dead-letters'],
        body: bulkRetrySchema,
        response: { 202: z.object({ queued: z.number().int() }), 404: problemSchema },
      },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const { group_id, stream, ids, dead_lettered_before } = request.body;
      const where = allOf([
        ...(await scopeFilters(db, organizationId, group_id, stream)),
        ids ? sql`d.id = any(${sql.param(ids)}::uuid[])` : undefined,
        dead_lettered_before ? sql`d.dead_lettered_at < ${new Date(dead_lettered_before).toISOString()}` : undefined,
      ]);
      const { count, groups } = await withTransaction(db, (tx) => queueRetries(tx, organizationId, where));
      for (const groupId of groups) await wakeGroup(boss, groupId);
      return reply.code(202).send({ queued: count });
    },
  );

  app.post(
    '/v1/dead-letters/:id/discard',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Discard a dead letter',
        tags: ['dead-letters'],
        params: idParamsSchema,
        response: { 200: deadLetterSchema, 404: problemSchema, 409: problemSchema },
      },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const id = request.params.id;
      return withTransaction(db, async (tx) => {
        const [current] = await selectDeadLetters(tx, organizationId, sql`d.id = ${id}`, 1);
        if (!current) throw notFound('dead letter');
        if (current.status === 'resolved') throw new EventFlowError('conflict', 'the dead letter was delivered already');
        await tx.execute(sql`update dead_letter_events set status = 'discarded' where id = ${id}`);
        await tx.execute(sql`delete from delivery_retries where dead_letter_id = ${id}`);
        return present({ ...current, status: 'discarded' });
      });
    },
  );
};
