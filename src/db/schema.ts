import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  slug: text('slug').notNull().unique(),
  createdAt: createdAt(),
});

/** Console users; the email is the sign-in name, so it is unique across organizations. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ['admin', 'viewer'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('users_email_key').on(sql`lower(${t.email})`)],
);

/**
 * Console sign-ins. The cookie carries a 256-bit token; only its SHA-256 is stored, so a
 * leaked table signs nobody in. Sessions end at expires_at, at sign-out, or with their user.
 */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: bytea('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/**
 * Failed sign-ins by email and by client address, shared by every API process, for the
 * sign-in limit. Rows older than the window are deleted as new ones arrive.
 */
export const signInFailures = pgTable(
  'sign_in_failures',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    subject: text('subject').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('sign_in_failures_subject_idx').on(t.subject, t.at)],
);

export type Scope = 'ingest' | 'read' | 'admin';

/**
 * A key is `ef_<prefix>_<secret>`. The prefix is not secret and finds the row; only the
 * SHA-256 of the whole key is stored (the secret has 256 bits, so a slow hash adds nothing).
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    name: text('name').notNull(),
    prefix: text('prefix').notNull().unique(),
    keyHash: bytea('key_hash').notNull(),
    scopes: text('scopes').array().$type<Scope[]>().notNull(),
    streams: text('streams').array(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('api_keys_organization_idx').on(t.organizationId, t.createdAt)],
);

export const eventStreams = pgTable(
  'event_streams',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    name: text('name').notNull(),
    description: text('description'),
    /** The seq of the newest event; the row lock on it orders appends (see ingest/append.ts). */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('event_streams_organization_name_key').on(t.organizationId, t.name),
    // What events' foreign key refers to: a stream and the organization that owns it.
    unique('event_streams_id_organization_key').on(t.id, t.organizationId),
  ],
);

export interface EventMetadata {
  event_type: string;
  event_version: number;
  /** RFC 3339 UTC with milliseconds: fixed width, so text order is time order. */
  occurred_at: string;
  source: string | null;
  api_key_id: string | null;
  context: Record<string, string>;
}

/** Immutable: a trigger (drizzle/0001) refuses UPDATE, DELETE and TRUNCATE. */
export const events = pgTable(
  'events',
  {
    streamId: uuid('stream_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    id: uuid('id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    metadata: jsonb('metadata').$type<EventMetadata>().notNull(),
    /** Whether the producer sent occurred_at; a resend compares it only when both did. */
    occurredAtSupplied: boolean('occurred_at_supplied').notNull(),
    appendedAt: timestamp('appended_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    primaryKey({ columns: [t.streamId, t.seq] }),
    // One key for both columns: an event's organization is its stream's, and each row
    // costs one check instead of two (alternating runs of batches of 100: ~9% faster; the
    // full bench: within noise), without every append of an organization taking a share
    // lock on its one organizations row.
    foreignKey({
      name: 'events_stream_organization_fk',
      columns: [t.streamId, t.organizationId],
      foreignColumns: [eventStreams.id, eventStreams.organizationId],
    }),
    uniqueIndex('events_organization_id_key').on(t.organizationId, t.id),
    index('events_stream_type_idx').on(t.streamId, sql`(${t.metadata}->>'event_type')`, t.seq),
    index('events_stream_occurred_at_idx').on(t.streamId, sql`(${t.metadata}->>'occurred_at')`),
    index('events_stream_appended_at_idx').on(t.streamId, t.appendedAt),
  ],
);

export interface DeliverySettings {
  mode: 'parallel' | 'ordered';
  max_in_flight: number;
  timeout_ms: number;
  max_attempts: number;
  initial_delay_ms: number;
  max_delay_ms: number;
}

export const consumerGroups = pgTable(
  'consumer_groups',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    name: text('name').notNull(),
    webhookUrl: text('webhook_url').notNull(),
    eventTypes: text('event_types').array().notNull().default(sql`'{}'::text[]`),
    status: text('status', { enum: ['active', 'paused'] })
      .notNull()
      .default('active'),
    delivery: jsonb('delivery').$type<DeliverySettings>().notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('consumer_groups_organization_name_key')
      .on(t.organizationId, t.name)
      .where(sql`${t.deletedAt} is null`),
  ],
);

/** Signing secrets, AES-256-GCM encrypted; a retired one still signs for 24 h. */
export const consumerGroupSecrets = pgTable(
  'consumer_group_secrets',
  {
    id: uuid('id').primaryKey(),
    groupId: uuid('group_id')
      .notNull()
      .references(() => consumerGroups.id),
    secretEncrypted: text('secret_encrypted').notNull(),
    createdAt: createdAt(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
  },
  (t) => [index('consumer_group_secrets_group_idx').on(t.groupId, t.createdAt)],
);

/**
 * One row per (group, stream) the group subscribes to: its subscription, its watermark
 * (`committed_seq`) and its delivery cursor. Every matching event with seq <= cursor_seq
 * has been attempted at least once: it is settled, or it waits in delivery_retries.
 * `generation` fences writers: each commit and each reset bumps it, and a commit that
 * read an older generation changes nothing.
 */
export const consumerOffsets = pgTable(
  'consumer_offsets',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => consumerGroups.id),
    streamId: uuid('stream_id')
      .notNull()
      .references(() => eventStreams.id),
    committedSeq: bigint('committed_seq', { mode: 'number' }).notNull().default(0),
    cursorSeq: bigint('cursor_seq', { mode: 'number' }).notNull().default(0),
    generation: bigint('generation', { mode: 'number' }).notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.streamId] }), index('consumer_offsets_stream_idx').on(t.streamId)],
);

/**
 * Events at or below a cursor that failed and wait for their next attempt. Rows with a
 * dead_letter_id are operator retries of dead letters: they are already settled, so they
 * do not hold the watermark back and are not bound by order.
 */
export const deliveryRetries = pgTable(
  'delivery_retries',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => consumerGroups.id),
    streamId: uuid('stream_id')
      .notNull()
      .references(() => eventStreams.id),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    eventId: uuid('event_id').notNull(),
    /** Every attempt so far, across dead-letter retries. */
    attempts: integer('attempts').notNull(),
    /** Attempts since the budget was last refreshed (by a dead-letter retry). */
    budgetUsed: integer('budget_used').notNull(),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull(),
    lastError: text('last_error'),
    lastStatusCode: integer('last_status_code'),
    deadLetterId: uuid('dead_letter_id'),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.streamId, t.seq] }),
    index('delivery_retries_due_idx').on(t.groupId, t.nextAttemptAt),
  ],
);

/** Every delivery attempt, for operators (GET /v1/consumer-groups/:id/deliveries). */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    groupId: uuid('group_id')
      .notNull()
      .references(() => consumerGroups.id),
    streamId: uuid('stream_id')
      .notNull()
      .references(() => eventStreams.id),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    eventId: uuid('event_id').notNull(),
    attempt: integer('attempt').notNull(),
    status: text('status', { enum: ['delivered', 'failed', 'blocked'] }).notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    responseBody: text('response_body'),
    durationMs: integer('duration_ms').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('delivery_attempts_group_idx').on(t.groupId, t.id),
    // A group's last error without walking its deliveries: failures are the rare rows.
    index('delivery_attempts_group_failures_idx').on(t.groupId, t.id).where(sql`${t.status} <> 'delivered'`),
  ],
);

export const deadLetterEvents = pgTable(
  'dead_letter_events',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    groupId: uuid('group_id')
      .notNull()
      .references(() => consumerGroups.id),
    streamId: uuid('stream_id')
      .notNull()
      .references(() => eventStreams.id),
    eventId: uuid('event_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    attempts: integer('attempts').notNull(),
    lastError: text('last_error'),
    lastStatusCode: integer('last_status_code'),
    status: text('status', { enum: ['pending', 'retrying', 'resolved', 'discarded'] })
      .notNull()
      .default('pending'),
    deadLetteredAt: timestamp('dead_lettered_at', { withTimezone: true }).notNull().defaultNow(),
    retriedAt: timestamp('retried_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('dead_letter_events_group_event_key').on(t.groupId, t.streamId, t.seq),
    index('dead_letter_events_organization_idx').on(t.organizationId, t.status, t.deadLetteredAt),
    check('dead_letter_events_attempts_check', sql`${t.attempts} >= 1`),
  ],
);
