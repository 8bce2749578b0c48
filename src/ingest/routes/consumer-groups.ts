import { sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { PgBoss } from 'pg-boss';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import { withTransaction, type Database, type Transaction } from '../../db/client.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { DeliverySettings } from '../../db/schema.ts';
import { EventFlowError, notFound } from '../../errors.ts';
import { generateWebhookSecret, type SecretBox } from '../../secrets.ts';
import { wakeGroup } from '../../workers/wake.ts';
import { organizationOf } from '../app.ts';
import { lockGroup, readGroup, readGroups, signalGroupChange } from '../groups.ts';
import { decodeCursor } from '../pagination.ts';
import {
  createdGroupSchema,
  createGroupSchema,
  deliveriesQuerySchema,
  deliveryAttemptSchema,
  groupActivitySchema,
  groupSchema,
  idParamsSchema,
  listQuerySchema,
  pageOf,
  patchGroupSchema,
  problemSchema,
  resetOffsetSchema,
} from '../schemas.ts';
import { assertWebhookUrl } from '../webhook-url.ts';
import { encodeCursor } from '../pagination.ts';
import { groupActivity, lastError } from '../activity.ts';

export interface GroupRouteDeps {
  db: Database;
  boss: PgBoss;
  box: SecretBox;
  config: Config;
}

export const consumerGroupRoutes: FastifyPluginAsyncZod<GroupRouteDeps> = async (app, { db, boss, box, config }) => {
  const allowPrivate = config.WEBHOOK_ALLOW_PRIVATE;

  app.post(
    '/v1/consumer-groups',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create a consumer group (its signing secret is shown once)',
        tags: ['consumer-groups'],
        body: createGroupSchema,
        response: { 201: createdGroupSchema, 400: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const body = request.body;
      const webhookUrl = await assertWebhookUrl(body.webhook_url, allowPrivate);
      checkDelays(body.delivery);
      const id = uuidv7();
      const secret = generateWebhookSecret();
      const group = await withTransaction(db, async (tx) => {
          const streams = await streamsByName(tx, organizationId, [...new Set(body.streams)]);
          await tx.execute(sql`
            insert into consumer_groups (id, organization_id, name, webhook_url, event_types, status, delivery)
            values (${id}, ${organizationId}, ${body.name}, ${webhookUrl}, ${sql.param([...new Set(body.event_types ?? [])])}::text[],
              'active', ${JSON.stringify(body.delivery)}::jsonb)`);
          await tx.execute(sql`insert into consumer_group_secrets (id, group_id, secret_encrypted) values (${uuidv7()}, ${id}, ${box.seal(secret)})`);
          // `latest` starts after the newest event committed now; the stream row lock makes
          // that exact against concurrent appends (they commit before or after this read).
          await tx.execute(sql`
            insert into consumer_offsets (group_id, stream_id, committed_seq, cursor_seq)
            select ${id}, s.id, ${body.start_from === 'latest' ? sql`s.last_seq` : sql`0`}, ${body.start_from === 'latest' ? sql`s.last_seq` : sql`0`}
            from event_streams s where s.id = any(${sql.param(streams.map((s) => s.id))}::uuid[])`);
          return readGroup(tx, organizationId, id);
        })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw new EventFlowError('conflict', `a consumer group named '${body.name}' exists`);
          throw error;
        });
      await wakeGroup(boss, id);
      return reply.code(201).send({ ...group, secret });
    },
  );

  app.get(
    '/v1/consumer-groups',
    {
      config: { auth: 'read' },
      schema: { summary: 'List consumer groups with their lag', tags: ['consumer-groups'], querystring: listQuerySchema, response: { 200: pageOf(groupSchema) } },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const rows = await readGroups(db, organizationOf(request), { after: decodeCursor(cursor, z.uuid()), limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { data: page, next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.id) : null };
    },
  );

  app.get(
    '/v1/consumer-groups/:id',
    {
      config: { auth: 'read' },
      schema: { summary: 'Show a consumer group', tags: ['consumer-groups'], params: idParamsSchema, response: { 200: groupSchema, 404: problemSchema } },
    },
    async (request) => readGroup(db, organizationOf(request), request.params.id),
  );

  app.patch(
    '/v1/consumer-groups/:id',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Change webhook_url, event_types, status (pause/resume) or delivery settings',
        tags: ['consumer-groups'],
        params: idParamsSchema,
        body: patchGroupSchema,
        response: { 200: groupSchema, 400: problemSchema, 404: problemSchema },
      },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const patch = request.body;
      const webhookUrl = patch.webhook_url === undefined ? undefined : await assertWebhookUrl(patch.webhook_url, allowPrivate);
      const group = await withTransaction(db, async (tx) => {
        const current = await lockGroup(tx, organizationId, request.params.id);
        const delivery = { ...current.delivery, ...patch.delivery };
        checkDelays(delivery);
        await tx.execute(sql`
          update consumer_groups set
            webhook_url = ${webhookUrl ?? current.webhook_url},
            event_types = ${sql.param(patch.event_types ? [...new Set(patch.event_types)] : current.event_types)}::text[],
            status = ${patch.status ?? current.status},
            delivery = ${JSON.stringify(delivery)}::jsonb,
            updated_at = now()
          where id = ${current.id}`);
        await signalGroupChange(tx, current.id);
        return readGroup(tx, organizationId, current.id);
      });
      if (group.status === 'active') await wakeGroup(boss, group.id);
      return group;
    },
  );

  app.delete(
    '/v1/consumer-groups/:id',
    {
      config: { auth: 'admin' },
      schema: { summary: 'Delete a consumer group', tags: ['consumer-groups'], params: idParamsSchema, response: { 204: z.null(), 404: problemSchema } },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      await withTransaction(db, async (tx) => {
        const group = await lockGroup(tx, organizationId, request.params.id);
        await tx.execute(sql`update consumer_groups set deleted_at = now(), updated_at = now() where id = ${group.id}`);
        await tx.execute(sql`delete from delivery_retries where group_id = ${group.id}`);
        await tx.execute(sql`update dead_letter_events set status = 'discarded'
          where group_id = ${group.id} and status in ('pending', 'retrying')`);
        await signalGroupChange(tx, group.id);
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/consumer-groups/:id/rotate-secret',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Rotate the signing secret; the old one still signs for 24 h',
        tags: ['consumer-groups'],
        params: idParamsSchema,
        response: { 200: z.object({ secret: z.string() }), 404: problemSchema },
      },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const secret = generateWebhookSecret();
      await withTransaction(db, async (tx) => {
        const group = await lockGroup(tx, organizationId, request.params.id);
        await tx.execute(sql`update consumer_group_secrets set retired_at = now() where group_id = ${group.id} and retired_at is null`);
        await tx.execute(sql`insert into consumer_group_secrets (id, group_id, secret_encrypted) values (${uuidv7()}, ${group.id}, ${box.seal(secret)})`);
        await signalGroupChange(tx, group.id);
      });
      return { secret };
    },
  );

  app.post(
    '/v1/consumer-groups/:id/offsets/reset',
    {
      config: { auth: 'admin' },
      schema: {
        summary: "Set a stream's committed_seq; every event after it is delivered again",
        tags: ['consumer-groups'],
        params: idParamsSchema,
        body: resetOffsetSchema,
        response: { 200: z.object({ stream: z.string(), committed_seq: z.number().int() }), 400: problemSchema, 404: problemSchema },
      },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const { stream, to } = request.body;
      const committed = await withTransaction(db, async (tx) => {
        const group = await lockGroup(tx, organizationId, request.params.id);
        const { rows } = await tx.execute<{ stream_id: string; last_seq: string }>(sql`
          select o.stream_id, s.last_seq from consumer_offsets o join event_streams s on s.id = o.stream_id
          where o.group_id = ${group.id} and s.name = ${stream} for update of o`);
        const offset = rows[0];
        if (!offset) throw notFound(`stream '${stream}' of this consumer group`);
        const target = await resolveTarget(tx, offset.stream_id, Number(offset.last_seq), to);
        // Bumping the generation fences a run that is mid-chunk: its commit is dropped.
        await tx.execute(sql`update consumer_offsets set committed_seq = ${target}, cursor_seq = ${target},
          generation = generation + 1, updated_at = now() where group_id = ${group.id} and stream_id = ${offset.stream_id}`);
        await tx.execute(sql`delete from delivery_retries
          where group_id = ${group.id} and stream_id = ${offset.stream_id} and dead_letter_id is null`);
        await signalGroupChange(tx, group.id);
        return target;
      });
      await wakeGroup(boss, request.params.id);
      return { stream, committed_seq: committed };
    },
  );

  app.get(
    '/v1/consumer-groups/:id/activity',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Deliveries and failures per minute over the last hour, and the last error',
        tags: ['consumer-groups'],
        params: idParamsSchema,
        response: { 200: groupActivitySchema, 404: problemSchema },
      },
    },
    async (request) => {
      const group = await readGroup(db, organizationOf(request), request.params.id);
      const [minutes, last] = await Promise.all([groupActivity(db, group.id), lastError(db, group.id)]);
      return { minutes, last_error: last };
    },
  );

  app.get(
    '/v1/consumer-groups/:id/deliveries',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Delivery attempts, newest first',
        tags: ['consumer-groups'],
        params: idParamsSchema,
        querystring: deliveriesQuerySchema,
        response: { 200: pageOf(deliveryAttemptSchema), 404: problemSchema },
      },
    },
    async (request) => {
      const group = await readGroup(db, organizationOf(request), request.params.id);
      const { limit, cursor, status, event_id: eventId } = request.query;
      const before = decodeCursor(cursor, z.number().int());
      const { rows } = await db.execute<{
        id: string;
        event_id: string;
        stream: string;
        seq: string;
        attempt: number;
        status: 'delivered' | 'failed' | 'blocked';
        status_code: number | null;
        error: string | null;
        response_body: string | null;
        duration_ms: number;
        at: string;
      }>(sql`
        select a.id, a.event_id, s.name as stream, a.seq, a.attempt, a.status, a.status_code, a.error, a.response_body, a.duration_ms, a.at
        from delivery_attempts a join event_streams s on s.id = a.stream_id
        where a.group_id = ${group.id} ${status ? sql`and a.status = ${status}` : sql``} ${eventId ? sql`and a.event_id = ${eventId}` : sql``}
          ${before ? sql`and a.id < ${before}` : sql``}
        order by a.id desc limit ${limit + 1}`);
      const page = rows.slice(0, limit);
      return {
        data: page.map(({ id: _id, seq, at, ...attempt }) => ({ ...attempt, seq: Number(seq), at: new Date(at).toISOString() })),
        next_cursor: rows.length > limit ? encodeCursor(Number(page.at(-1)!.id)) : null,
      };
    },
  );
};

async function streamsByName(tx: Transaction, organizationId: string, names: string[]): Promise<{ id: string; name: string }[]> {
  const { rows } = await tx.execute<{ id: string; name: string }>(sql`
    select id, name from event_streams where organization_id = ${organizationId} and name = any(${sql.param(names)}::text[])
    for share`);
  const missing = names.map((name, index) => ({ name, index })).filter(({ name }) => !rows.some((row) => row.name === name));
  if (missing.length > 0) {
    throw new EventFlowError('validation_failed', 'unknown streams', {
      errors: missing.map(({ name, index }) => ({ path: `streams.${index}`, message: `no stream named '${name}'` })),
    });
  }
  return rows;
}

function checkDelays(delivery: DeliverySettings): void {
  if (delivery.max_delay_ms < delivery.initial_delay_ms) {
    throw new EventFlowError('validation_failed', 'max_delay_ms is below initial_delay_ms', {
      errors: [{ path: 'delivery.max_delay_ms', message: 'must be at least initial_delay_ms' }],
    });
  }
}

type ResetTarget = z.output<typeof resetOffsetSchema>['to'];

async function resolveTarget(tx: Transaction, streamId: string, lastSeq: number, to: ResetTarget): Promise<number> {
  if (to === 'earliest') return 0;
  if (to === 'latest') return lastSeq;
  if ('seq' in to) {
    if (to.seq > lastSeq) {
      throw new EventFlowError('validation_failed', `seq ${to.seq} is beyond the stream's last_seq ${lastSeq}`, {
        errors: [{ path: 'to.seq', message: `must be at most ${lastSeq}` }],
      });
    }
    return to.seq;
  }
  const { rows } = await tx.execute<{ seq: string | null }>(sql`
    select max(seq) as seq from events where stream_id = ${streamId} and appended_at < ${new Date(to.time).toISOString()}`);
  return Number(rows[0]?.seq ?? 0);
}
