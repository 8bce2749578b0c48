import { z } from 'zod';
import { findJsonIssue } from './json-safety.ts';

/**
 * Request and response schemas: each validates requests, types the handler and is
 * turned into /openapi.json, so the three never disagree.
 */

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
export const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
const MAX_INT4 = 2_147_483_647;

export const streamNameSchema = z.string().regex(STREAM_NAME, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$');
export const timestampSchema = z.iso.datetime({ offset: true });
const uuidSchema = z.uuid();

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional(),
});

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const idParamsSchema = z.object({ id: uuidSchema });
export const streamParamsSchema = z.object({ stream: streamNameSchema });
export const eventParamsSchema = z.object({ stream: streamNameSchema, id: uuidSchema });

// --- organizations and keys -------------------------------------------------------------

export const scopeSchema = z.enum(['ingest', 'read', 'admin']);

export const createOrganizationSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9-]{0,62}$'),
});

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  scopes: z.array(scopeSchema).min(1).max(3),
  streams: z.array(streamNameSchema).min(1).max(1000).optional(),
  expires_at: timestampSchema.optional(),
});

export const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(scopeSchema),
    streams: z.array(z.string()).nullable(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'ApiKey' });

export const createdApiKeySchema = apiKeySchema.extend({ key: z.string() }).meta({ id: 'CreatedApiKey' });

export const organizationCreatedSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    created_at: z.string(),
    api_key: z.object({ id: z.uuid(), key: z.string(), scopes: z.array(scopeSchema) }),
  })
  .meta({ id: 'OrganizationCreated' });

// --- streams ------------------------------------------------------------------------------

export const createStreamSchema = z.strictObject({
  name: streamNameSchema,
  description: z.string().max(2000).optional(),
});

export const streamSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    last_seq: z.number().int(),
    event_count: z.number().int(),
    created_at: z.string(),
  })
  .meta({ id: 'Stream' });

// --- events -------------------------------------------------------------------------------

export const eventInputSchema = z
  .strictObject({
    id: uuidSchema.optional(),
    type: z.string().regex(EVENT_TYPE, 'must match ^[A-Za-z][A-Za-z0-9_.:-]{0,127}$'),
    version: z.number().int().min(1).max(MAX_INT4).default(1),
    occurred_at: timestampSchema.optional(),
    source: z.string().min(1).max(256).nullable().optional(),
    payload: z.record(z.string(), z.unknown()),
    context: z.record(z.string().max(128), z.string().max(1024)).optional(),
  })
  .superRefine((event, ctx) => {
    const issue = findJsonIssue(event);
    if (issue) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  })
  .meta({ id: 'NewEvent' });

export type EventInput = z.output<typeof eventInputSchema>;

export const MAX_BATCH = 1000;
export const batchInputSchema = z.strictObject({ events: z.array(eventInputSchema).min(1).max(MAX_BATCH) });

export const appendedSchema = z.object({ id: z.uuid(), stream: z.string(), seq: z.number().int(), duplicate: z.boolean() });
export const batchAppendedSchema = z.object({
  events: z.array(z.object({ id: z.uuid(), seq: z.number().int(), duplicate: z.boolean() })),
});

export const eventSchema = z
  .object({
    id: z.uuid(),
    stream: z.string(),
    seq: z.number().int(),
    type: z.string(),
    version: z.number().int(),
    occurred_at: z.string(),
    source: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()),
    context: z.record(z.string(), z.string()),
    appended_at: z.string(),
  })
  .meta({ id: 'Event' });

export const eventListQuerySchema = listQuerySchema.extend({
  after_seq: z.coerce.number().int().min(0).optional(),
  type: z.string().regex(EVENT_TYPE).optional(),
  from: timestampSchema.optional(),
  to: timestampSchema.optional(),
});

// --- consumer groups ----------------------------------------------------------------------

export const deliverySettingsSchema = z.strictObject({
  mode: z.enum(['parallel', 'ordered']).default('parallel'),
  max_in_flight: z.number().int().min(1).max(256).default(16),
  timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
  max_attempts: z.number().int().min(1).max(100).default(8),
  initial_delay_ms: z.number().int().min(0).max(86_400_000).default(5_000),
  max_delay_ms: z.number().int().min(0).max(86_400_000).default(3_600_000),
});

const eventTypesSchema = z.array(z.string().regex(EVENT_TYPE, 'must match ^[A-Za-z][A-Za-z0-9_.:-]{0,127}$')).max(100);

export const createGroupSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  streams: z.array(streamNameSchema).min(1).max(100),
  webhook_url: z.string().max(2048),
  event_types: eventTypesSchema.optional(),
  start_from: z.enum(['latest', 'earliest']).default('latest'),
  delivery: deliverySettingsSchema.default(deliverySettingsSchema.parse({})),
});

export const patchGroupSchema = z.strictObject({
  webhook_url: z.string().max(2048).optional(),
  event_types: eventTypesSchema.optional(),
  status: z.enum(['active', 'paused']).optional(),
  delivery: deliverySettingsSchema.partial().optional(),
});

export const offsetSchema = z.object({
  stream: z.string(),
  committed_seq: z.number().int(),
  last_seq: z.number().int(),
  lag: z.number().int(),
});

export const groupSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    streams: z.array(z.string()),
    webhook_url: z.string(),
    event_types: z.array(z.string()),
    status: z.enum(['active', 'paused']),
    delivery: z.object({
      mode: z.enum(['parallel', 'ordered']),
      max_in_flight: z.number(),
      timeout_ms: z.number(),
      max_attempts: z.number(),
      initial_delay_ms: z.number(),
      max_delay_ms: z.number(),
    }),
    offsets: z.array(offsetSchema),
    dead_letters_pending: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'ConsumerGroup' });

export const createdGroupSchema = groupSchema.extend({ secret: z.string() }).meta({ id: 'CreatedConsumerGroup' });

export const resetOffsetSchema = z.strictObject({
  stream: streamNameSchema,
  to: z.union([
    z.enum(['earliest', 'latest']),
    z.strictObject({ seq: z.number().int().min(0) }),
    z.strictObject({ time: timestampSchema }),
  ]),
});

export const deliveryAttemptSchema = z
  .object({
    event_id: z.uuid(),
    stream: z.string(),
    seq: z.number().int(),
    attempt: z.number().int(),
    status: z.enum(['delivered', 'failed', 'blocked']),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    response_body: z.string().nullable(),
    duration_ms: z.number().int(),
    at: z.string(),
  })
  .meta({ id: 'DeliveryAttempt' });

export const deliveriesQuerySchema = listQuerySchema.extend({
  status: z.enum(['delivered', 'failed', 'blocked']).optional(),
  event_id: z.uuid().optional(),
});

// --- dead letters -------------------------------------------------------------------------

export const deadLetterStatusSchema = z.enum(['pending', 'retrying', 'resolved', 'discarded']);

export const deadLetterSchema = z
  .object({
    id: z.uuid(),
    group_id: z.uuid(),
    stream: z.string(),
    event_id: z.uuid(),
    seq: z.number().int(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    status: deadLetterStatusSchema,
    dead_lettered_at: z.string(),
    retried_at: z.string().nullable(),
  })
  .meta({ id: 'DeadLetter' });

export const deadLetterQuerySchema = listQuerySchema.extend({
  group_id: z.uuid().optional(),
  stream: streamNameSchema.optional(),
  status: deadLetterStatusSchema.optional(),
});

export const bulkRetrySchema = z.strictObject({
  group_id: z.uuid().optional(),
  stream: streamNameSchema.optional(),
  ids: z.array(z.uuid()).min(1).max(1000).optional(),
  dead_lettered_before: timestampSchema.optional(),
});

// --- console users and sessions -----------------------------------------------------------

export const roleSchema = z.enum(['admin', 'viewer']);

export const createUserSchema = z.strictObject({
  email: z.email().max(320),
  password: z.string().min(12, 'must be at least 12 characters').max(256),
  role: roleSchema,
});

export const userSchema = z
  .object({ id: z.uuid(), email: z.string(), role: roleSchema, created_at: z.string() })
  .meta({ id: 'User', description: 'A console user (never with its password hash)' });

export const signInSchema = z.strictObject({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(256),
});

export const sessionSchema = z
  .object({
    user: z.object({ id: z.uuid(), email: z.string(), role: roleSchema, organization_id: z.uuid() }),
    /** Sent back in the x-csrf-token header with every request that changes something. */
    csrf_token: z.string(),
  })
  .meta({ id: 'Session' });

// --- activity (the console's charts) --------------------------------------------------------

export const streamActivitySchema = z
  .object({ stream: z.string(), last_seq: z.number().int(), minutes: z.array(z.object({ minute: z.string(), events: z.number().int() })) })
  .meta({ id: 'StreamActivity', description: 'Events appended per minute over the last hour, oldest first' });

export const groupActivitySchema = z
  .object({
    minutes: z.array(z.object({ minute: z.string(), delivered: z.number().int(), failed: z.number().int() })),
    last_error: z
      .object({ stream: z.string(), seq: z.number().int(), attempt: z.number().int(), status_code: z.number().int().nullable(), error: z.string().nullable(), at: z.string() })
      .nullable(),
  })
  .meta({ id: 'GroupActivity', description: 'Delivery attempts per minute over the last hour (oldest first) and the last failed one' });
