import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import type { Database } from '../../db/client.ts';
import { eventStreams } from '../../db/schema.ts';
import { EventFlowError, notFound } from '../../errors.ts';
import { tenantOf, organizationOf } from '../app.ts';
import { streamActivity } from '../activity.ts';
import { decodeCursor, toPage } from '../pagination.ts';
import {
  createStreamSchema,
  listQuerySchema,
  pageOf,
  problemSchema,
  streamNameSchema,
  streamActivitySchema,
  streamParamsSchema,
  streamSchema,
} from '../schemas.ts';

type StreamRow = typeof eventStreams.$inferSelect;

/** Seqs have no gaps and events are never deleted, so the count is the last seq. */
export const presentStream = (row: StreamRow) => ({
  id: row.id,
  name: row.name,
  description: row.description,
  last_seq: row.lastSeq,
  event_count: row.lastSeq,
  created_at: row.createdAt.toISOString(),
});

export async function findStream(db: Database, organizationId: string, name: string): Promise<StreamRow> {
  const [row] = await db
    .select()
    .from(eventStreams)
    .where(and(eq(eventStreams.organizationId, organizationId), eq(eventStreams.name, name)));
  if (!row) throw notFound(`stream '${name}'`);
  return row;
}

export const streamRoutes: FastifyPluginAsyncZod<{ db: Database }> = async (app, { db }) => {
  app.post(
    '/v1/streams',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create a stream',
        tags: ['streams'],
        body: createStreamSchema,
        response: { 201: streamSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const { name, description } = request.body;
      const [row] = await db
        .insert(eventStreams)
        .values({ id: uuidv7(), organizationId, name, description: description ?? null })
        .onConflictDoNothing()
        .returning();
      if (!row) throw new EventFlowError('conflict', `a stream named '${name}' exists`);
      return reply.code(201).send(presentStream(row));
    },
  );

  app.get(
    '/v1/streams',
    {
      config: { auth: 'read' },
      schema: { summary: 'List streams', tags: ['streams'], querystring: listQuerySchema, response: { 200: pageOf(streamSchema) } },
    },
    async (request) => {
      const key = tenantOf(request);
      const { limit, cursor } = request.query;
      const after = decodeCursor(cursor, streamNameSchema);
      const rows = await db
        .select()
        .from(eventStreams)
        .where(
          and(
            eq(eventStreams.organizationId, key.organizationId),
            after ? gt(eventStreams.name, after) : undefined,
            key.streams ? inArray(eventStreams.name, [...key.streams]) : undefined,
          ),
        )
        .orderBy(asc(eventStreams.name))
        .limit(limit + 1);
      return toPage(rows, limit, (row) => row.name, presentStream);
    },
  );

  app.get(
    '/v1/streams/:stream',
    {
      config: { auth: 'read' },
      schema: { summary: 'Show a stream', tags: ['streams'], params: streamParamsSchema, response: { 200: streamSchema, 404: problemSchema } },
    },
    async (request) => presentStream(await findStream(db, organizationOf(request), request.params.stream)),
  );

  app.get(
    '/v1/streams/:stream/activity',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Events appended per minute over the last hour',
        tags: ['streams'],
        params: streamParamsSchema,
        response: { 200: streamActivitySchema, 404: problemSchema },
      },
    },
    async (request) => {
      const stream = await findStream(db, organizationOf(request), request.params.stream);
      return { stream: stream.name, last_seq: stream.lastSeq, minutes: await streamActivity(db, stream.id) };
    },
  );
};
