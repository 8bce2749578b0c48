import { randomFillSync } from 'node:crypto';
import { and, asc, eq, gt, gte, lt, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import type { Database } from '../../db/client.ts';
import type { Metrics } from '../../metrics.ts';
import { events } from '../../db/schema.ts';
import { EventFlowError, notFound, type FieldError } from '../../errors.ts';
import { tenantOf, organizationOf } from '../app.ts';
import { AppendNotifier } from '../append-notifier.ts';
import { Appender, type EventToAppend } from '../append.ts';
import { decodeCursor, toPage } from '../pagination.ts';
import { IngestRateLimiter } from '../rate-limit.ts';
import {
  appendedSchema,
  batchAppendedSchema,
  batchInputSchema,
  eventInputSchema,
  eventListQuerySchema,
  eventParamsSchema,
  eventSchema,
  pageOf,
  problemSchema,
  streamParamsSchema,
  type EventInput,
} from '../schemas.ts';
import { findStream } from './streams.ts';

type EventRow = typeof events.$inferSelect;

export const presentEvent = (row: EventRow, stream: string) => ({
  id: row.id,
  stream,
  seq: row.seq,
  type: row.metadata.event_type,
  version: row.metadata.event_version,
  occurred_at: row.metadata.occurred_at,
  source: row.metadata.source,
  payload: row.payload,
  context: row.metadata.context,
  appended_at: row.appendedAt.toISOString(),
});

const canonicalTime = (value: string) => new Date(value).toISOString();

/**
 * A producer that sends a W3C `traceparent` header gives its trace id to the events that
 * carry none in their context, so the trace follows them to every delivery.
 */
/**
 * Random bytes for server-made event ids, drawn 4 KiB at a time: one getRandomValues call
 * per id was 4% of batch ingest's CPU. With its own random source, uuid's v7 orders ids by
 * millisecond only, not within one (seq is what orders a stream).
 */
const randomPool = new Uint8Array(4096);
let randomOffset = randomPool.length;
function pooledRandom(): Uint8Array {
  if (randomOffset === randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomOffset += 16;
  return randomPool.subarray(randomOffset - 16, randomOffset);
}

function toAppend(event: EventInput, now: string, traceparent: string | undefined, apiKeyId: string | null): EventToAppend {
  const context = event.context ?? {};
  return {
    id: event.id?.toLowerCase() ?? uuidv7({ rng: pooledRandom }),
    idSupplied: event.id !== undefined,
    type: event.type,
    version: event.version,
    occurredAt: event.occurred_at ? canonicalTime(event.occurred_at) : now,
    occurredAtSupplied: event.occurred_at !== undefined,
    source: event.source ?? null,
    payload: event.payload,
    context: traceparent && context.trace_id === undefined ? { ...context, trace_id: traceparent } : context,
    apiKeyId,
  };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

function parseTraceparent(header: string | string[] | undefined): string | undefined {
  const traceId = typeof header === 'string' ? TRACEPARENT.exec(header.trim())?.[1] : undefined;
  return traceId && !/^0+$/.test(traceId) ? traceId : undefined;
}

/** The distinct trace and correlation ids of a request's events, for its log line (at most 20 each). */
function traceContextOf(events: EventToAppend[]): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = {};
  for (const key of ['trace_id', 'correlation_id'] as const) {
    const values = [...new Set(events.map((event) => event.context[key]).filter((value) => value !== undefined))].slice(0, 20);
    if (values.length > 0) context[key] = values.length === 1 ? values[0]! : values;
  }
  return context;
}

/** Checks the limits that depend on configuration and on the batch as a whole. */
function checkBatch(batch: EventInput[], maxPayloadBytes: number, prefix: string): void {
  const tooLarge: FieldError[] = [];
  const duplicates: FieldError[] = [];
  const seen = new Set<string>();
  batch.forEach((event, index) => {
    const at = `${prefix}${index}.`;
    if (Buffer.byteLength(JSON.stringify(event.payload)) > maxPayloadBytes) {
      tooLarge.push({ path: `${at}payload`, message: `larger than ${maxPayloadBytes} bytes serialized` });
    }
    const id = event.id?.toLowerCase();
    if (id === undefined) return;
    if (seen.has(id)) duplicates.push({ path: `${at}id`, message: 'repeats an earlier id in this batch' });
    seen.add(id);
  });
  if (duplicates.length > 0) {
    throw new EventFlowError('validation_failed', 'event ids repeat inside the batch', { errors: duplicates });
  }
  if (tooLarge.length > 0) {
    throw new EventFlowError('payload_too_large', 'an event payload is over its limit', { errors: tooLarge });
  }
}

export const eventRoutes: FastifyPluginAsyncZod<{ db: Database; config: Config; metrics: Metrics }> = async (app, { db, config, metrics }) => {
  const notifier = new AppendNotifier(db, app.log);
  const appender = new Appender(db, (streamId, events) => {
    notifier.appended(streamId);
    metrics.appendCommitEvents.observe(events);
  });
  app.addHook('onClose', () => notifier.idle());
  const limiter = config.INGEST_RATE_LIMIT ? new IngestRateLimiter(config.INGEST_RATE_LIMIT) : undefined;

  const append = async (request: FastifyRequest & { params: { stream: string } }, batch: EventInput[]) => {
    const key = tenantOf(request);
    limiter?.take(key.organizationId, batch.length);
    const now = new Date().toISOString();
    const traceparent = parseTraceparent(request.headers.traceparent);
    const events = batch.map((event) => toAppend(event, now, traceparent, key.kind === 'key' ? key.keyId : null));
    request.traceContext = traceContextOf(events);
    const results = await appender.append(
      { organizationId: key.organizationId, streamName: request.params.stream },
      events,
    );
    const appended = results.filter((result) => !result.duplicate).length;
    if (appended > 0) metrics.eventsIngested.inc({ org: key.organizationId, stream: request.params.stream }, appended);
    return results;
  };

  app.post(
    '/v1/streams/:stream/events',
    {
      config: { auth: 'ingest' },
      schema: {
        summary: 'Append one event',
        tags: ['events'],
        params: streamParamsSchema,
        body: eventInputSchema,
        response: { 200: appendedSchema, 201: appendedSchema, 404: problemSchema, 409: problemSchema, 413: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      checkBatch([request.body], config.MAX_PAYLOAD_BYTES, '');
      const [result] = await append(request, [request.body]);
      return reply
        .code(result!.duplicate ? 200 : 201)
        .send({ id: result!.id, stream: request.params.stream, seq: result!.seq, duplicate: result!.duplicate });
    },
  );

  app.post(
    '/v1/streams/:stream/events/batch',
    {
      config: { auth: 'ingest' },
      schema: {
        summary: 'Append 1..1000 events, all or nothing',
        tags: ['events'],
        params: streamParamsSchema,
        body: batchInputSchema,
        response: { 200: batchAppendedSchema, 201: batchAppendedSchema, 404: problemSchema, 409: problemSchema, 413: problemSchema },
      },
    },
    async (request, reply) => {
      checkBatch(request.body.events, config.MAX_PAYLOAD_BYTES, 'events.');
      const results = await append(request, request.body.events);
      return reply.code(results.every((result) => result.duplicate) ? 200 : 201).send({ events: results });
    },
  );

  app.get(
    '/v1/streams/:stream/events',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Read events in seq order',
        tags: ['events'],
        params: streamParamsSchema,
        querystring: eventListQuerySchema,
        response: { 200: pageOf(eventSchema), 404: problemSchema },
      },
    },
    async (request) => {
      const stream = await findStream(db, organizationOf(request), request.params.stream);
      const { limit, cursor, after_seq, type, from, to } = request.query;
      const afterSeq = decodeCursor(cursor, z.number().int().min(0)) ?? after_seq ?? 0;
      const rows = await db
        .select()
        .from(events)
        .where(
          and(
            eq(events.streamId, stream.id),
            gt(events.seq, afterSeq),
            type ? eq(sql`${events.metadata}->>'event_type'`, type) : undefined,
            from ? gte(sql`${events.metadata}->>'occurred_at'`, canonicalTime(from)) : undefined,
            to ? lt(sql`${events.metadata}->>'occurred_at'`, canonicalTime(to)) : undefined,
          ),
        )
        .orderBy(asc(events.seq))
        .limit(limit + 1);
      return toPage(rows, limit, (row) => row.seq, (row) => presentEvent(row, stream.name));
    },
  );

  app.get(
    '/v1/streams/:stream/events/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Read one event',
        tags: ['events'],
        params: eventParamsSchema,
        response: { 200: eventSchema, 404: problemSchema },
      },
    },
    async (request) => {
      const stream = await findStream(db, organizationOf(request), request.params.stream);
      const [row] = await db
        .select()
        .from(events)
        .where(and(eq(events.organizationId, stream.organizationId), eq(events.id, request.params.id), eq(events.streamId, stream.id)));
      if (!row) throw notFound(`event ${request.params.id}`);
      return presentEvent(row, stream.name);
    },
  );
};
