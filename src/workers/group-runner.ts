import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { PgBoss } from 'pg-boss';
import type { Database } from '../db/client.ts';
import type { DeliverySettings } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import type { DeliveryOutcome, WebhookSender } from './deliver.ts';
import {
  commitChunk,
  FencedError,
  loadGroup,
  loadOffsets,
  loadRetries,
  readEventsBySeq,
  readNewEvents,
  type ChunkResult,
  type GroupConfig,
  type RetryRow,
  type StoredEvent,
  type StreamOffset,
} from './delivery-store.ts';
import type { GroupSignals } from './group-signals.ts';
import { signatureHeader } from './signing.ts';
import { DELIVER_QUEUE, wakeGroup, type DeliverJob } from './wake.ts';

/** Every this often a run hands its group over if other groups' runs wait for a worker. */
const YIELD_CHECK_MS = 10_000;
/** A run hands over after this in any case, far inside the job's expiry (queues.ts). */
export const RUN_MAX_MS = 300_000;
/**
 * A run that has caught up waits this long for new events of its streams (woken by the
 * appends' NOTIFY) before it ends: under steady traffic the run stays, and a new event is
 * sent within milliseconds instead of after a new job is fetched.
 */
const IDLE_MS = 2_000;
/** How stale a run's copy of its group and retries may get when nothing signalled a change. */
const STATE_TTL_MS = 1_000;
/** Events read per stream per chunk; each chunk ends in one commit. */
const CHUNK_EVENTS = 500;
/**
 * A chunk stops starting deliveries after this, so a slow receiver still sees its offset
 * committed every second, and a crash sends at most a second's worth again.
 */
const CHUNK_MS = 1_000;

interface Item {
  offset: StreamOffset;
  event: StoredEvent;
  retry: RetryRow | undefined;
}

/** A stream's items in seq order; an ordered lane stops at its first failure. */
interface Lane {
  offset: StreamOffset;
  items: Item[];
  /** Where the cursor may go once every new (non-retry) item of the lane has started. */
  scanEnd: number;
}

export interface RunnerDeps {
  db: Database;
  boss: PgBoss;
  sender: WebhookSender;
  box: SecretBox;
  signals: GroupSignals;
  logger: Logger;
  metrics: Metrics;
}

/**
 * One run of a group's delivery job. Only one run per group is active at a time (the
 * deliver queue is stately, keyed by group), and every commit is fenced by the offsets'
 * generation, so even a run that outlived its job's expiry cannot move an offset.
 *
 * No loss: the cursor moves only in the commit that records what happened to every event
 * at or below it (delivered, waiting in delivery_retries, or dead-lettered). A crash
 * before that commit leaves the cursor where it was, and the next run sends those events
 * again (at least once).
 *
 * Order: in `ordered` mode a stream's events are sent one after another and the lane
 * stops at the first failure; while a stream has a failed event waiting, nothing after
 * it is sent, so seq n+1 never goes before seq n is settled.
 */
export async function runGroup(deps: RunnerDeps, groupId: string, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  let yieldCheck = started + YIELD_CHECK_MS;
  const log = deps.logger.child({ group: groupId });
  let state: { group: GroupConfig | undefined; retries: RetryRow[]; version: number; loadedAt: number } | undefined;
  for (;;) {
    if (signal.aborted || Date.now() - started >= RUN_MAX_MS) return wakeGroup(deps.boss, groupId);
    if (Date.now() >= yieldCheck) {
      if (await othersWaiting(deps.boss, groupId)) return wakeGroup(deps.boss, groupId);
      yieldCheck = Date.now() + YIELD_CHECK_MS;
    }
    // The group and its retries change only through operators (signalled) or this run's
    // own commits; otherwise they are re-read every STATE_TTL_MS, not every chunk.
    const version = deps.signals.version(groupId);
    if (!state || state.version !== version || Date.now() - state.loadedAt >= STATE_TTL_MS) {
      state = { group: await loadGroup(deps.db, groupId, deps.box), retries: await loadRetries(deps.db, groupId), version, loadedAt: Date.now() };
    }
    const { group, retries } = state;
    if (!group || group.status !== 'active') return;
    const offsets = await loadOffsets(deps.db, groupId);
    const lanes = await planLanes(deps.db, group, offsets, retries);
    const idle = lanes.every((lane) => lane.items.length === 0 && lane.scanEnd <= lane.offset.cursorSeq);
    if (!idle) {
      const chunk = await runChunk(deps, log, group, state.version, lanes, offsets, signal);
      // A change signalled since the group was read (a pause, a reset) stopped the chunk: re-read it now.
      const changed = deps.signals.version(groupId) !== state.version;
      if (chunk.touchedRetries) state = undefined;
      if (chunk.progress || changed) continue;
    }
    // Caught up (or only waiting retries): wait for new events, a change, or the next retry.
    const nextRetry = soonest(retries);
    const wait = Math.min(IDLE_MS, nextRetry ? nextRetry.getTime() - Date.now() : IDLE_MS);
    const woken = await deps.signals.waitForActivity(groupId, new Set(offsets.map((o) => o.streamId)), Math.max(0, wait), signal);
    const retryDue = nextRetry !== undefined && nextRetry.getTime() <= Date.now();
    if (!woken && !retryDue) return scheduleNextRetry(deps.boss, groupId, retries);
  }
}

/**
 * Sends one chunk and commits it. `progress`: something was sent or a cursor moved;
 * `touchedRetries`: the retry rows changed (or the commit was fenced), so re-read them.
 */
async function runChunk(
  deps: RunnerDeps,
  log: Logger,
  group: GroupConfig,
  /** The signal version `group` was read under: a pause signalled since then, even one
   * that arrived before this chunk began, stops it before its first delivery. */
  groupVersion: number,
  lanes: Lane[],
  offsets: StreamOffset[],
  signal: AbortSignal,
): Promise<{ progress: boolean; touchedRetries: boolean }> {
  const chunkEnds = Date.now() + CHUNK_MS;
  const interrupted = () => signal.aborted || deps.signals.version(group.id) !== groupVersion || Date.now() >= chunkEnds;
  const outcomes = await sendLanes(deps, group, lanes, interrupted, (item, outcome) => reportAttempt(log, deps.metrics, item, outcome));
  const chunk = toChunkResult(group, lanes, outcomes);
  try {
    await commitChunk(deps.db, chunk, uuidv7);
  } catch (error) {
    if (!(error instanceof FencedError)) throw error;
    log.info('offsets changed during the chunk; reloading');
    return { progress: true, touchedRetries: true };
  }
  deps.metrics.deadLettered.inc(chunk.deadLetters.filter((dead) => dead.deadLetterId === null).length);
  const advanced = chunk.cursors.some((c) => c.cursorSeq > offsets.find((o) => o.streamId === c.streamId)!.cursorSeq);
  const touchedRetries = chunk.retries.length + chunk.clearedRetries.length + chunk.deadLetters.length > 0;
  return { progress: outcomes.size > 0 || advanced, touchedRetries };
}

/** Whether runs of other groups wait for a worker (then this one makes room). */
async function othersWaiting(boss: PgBoss, groupId: string): Promise<boolean> {
  const queued = await boss.findJobs<DeliverJob>(DELIVER_QUEUE, { queued: true, limit: 20 });
  return queued.some((job) => job.singletonKey !== groupId && job.startAfter.getTime() <= Date.now());
}

const soonest = (retries: RetryRow[]): Date | undefined =>
  retries.reduce<Date | undefined>((first, r) => (!first || r.nextAttemptAt < first ? r.nextAttemptAt : first), undefined);

function scheduleNextRetry(boss: PgBoss, groupId: string, retries: RetryRow[]): Promise<void> | undefined {
  const next = soonest(retries);
  return next ? wakeGroup(boss, groupId, next) : undefined;
}

async function planLanes(db: Database, group: GroupConfig, offsets: StreamOffset[], retries: RetryRow[]): Promise<Lane[]> {
  const now = Date.now();
  const lanes: Lane[] = [];
  for (const offset of offsets) {
    const streamRetries = retries.filter((r) => r.streamId === offset.streamId);
    const fresh = await readNewEvents(db, offset, group.eventTypes, CHUNK_EVENTS);
    const scanEnd = fresh.length < CHUNK_EVENTS ? offset.lastSeq : fresh.at(-1)!.seq;
    // An ordered lane keeps its waiting retry in line, so nothing after it is sent.
    // Operator retries of dead letters are settled already and never hold a lane back.
    const holdsLine = (r: RetryRow) => group.delivery.mode === 'ordered' && r.deadLetterId === null;
    const dueRetries = streamRetries.filter((r) => r.nextAttemptAt.getTime() <= now || holdsLine(r));
    const retryEvents = new Map(
      (await readEventsBySeq(db, offset.streamId, dueRetries.map((r) => r.seq))).map((event) => [event.seq, event]),
    );
    const items: Item[] = [
      ...dueRetries.flatMap((retry) => {
        const event = retryEvents.get(retry.seq);
        return event ? [{ offset, event, retry }] : [];
      }),
      ...fresh.map((event) => ({ offset, event, retry: undefined })),
    ].sort((a, b) => a.event.seq - b.event.seq);
    lanes.push({ offset, items, scanEnd });
  }
  return lanes;
}

type Outcomes = Map<Item, DeliveryOutcome>;

/**
 * Parallel: every item of every lane, `max_in_flight` at a time. Ordered: each lane one
 * item at a time, stopping at a failure or at a waiting retry, lanes side by side.
 * `interrupted` (a pause, delete or reset signalled, shutdown, or the chunk's time is up)
 * stops new starts.
 */
async function sendLanes(
  deps: RunnerDeps,
  group: GroupConfig,
  lanes: Lane[],
  interrupted: () => boolean,
  report: (item: Item, outcome: DeliveryOutcome) => void,
): Promise<Outcomes> {
  const outcomes: Outcomes = new Map();
  const settings = group.delivery;
  const send = async (item: Item) => {
    const outcome = await deliverItem(deps, group, item);
    outcomes.set(item, outcome);
    report(item, outcome);
  };
  if (settings.mode === 'parallel') {
    const queue = lanes.flatMap((lane) => lane.items);
    await inParallel(settings.max_in_flight, queue, send, interrupted);
    return outcomes;
  }
  const now = Date.now();
  await inParallel(settings.max_in_flight, lanes, async (lane) => {
    for (const item of lane.items) {
      if (interrupted()) return;
      const waiting = item.retry && item.retry.deadLetterId === null && item.retry.nextAttemptAt.getTime() > now;
      if (waiting) return;
      await send(item);
      if (outcomes.get(item)!.status !== 'delivered' && item.retry?.deadLetterId == null) return;
    }
  }, interrupted);
  return outcomes;
}

async function inParallel<T>(limit: number, items: T[], run: (item: T) => Promise<unknown>, interrupted: () => boolean): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !interrupted()) await run(items[next++]!);
  });
  await Promise.all(workers);
}

function deliverItem(deps: RunnerDeps, group: GroupConfig, item: Item): Promise<DeliveryOutcome> {
  const { event, offset } = item;
  const meta = event.metadata;
  const body = JSON.stringify({
    id: event.id,
    stream: offset.streamName,
    seq: event.seq,
    type: meta.event_type,
    version: meta.event_version,
    occurred_at: meta.occurred_at,
    source: meta.source,
    payload: event.payload,
    context: meta.context,
  });
  const timestamp = Math.floor(Date.now() / 1000);
  return deps.sender.send({
    url: group.webhookUrl,
    body,
    timeoutMs: group.delivery.timeout_ms,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'EventFlow-Webhooks/1',
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(group.secrets, event.id, timestamp, body),
      'eventflow-stream': offset.streamName,
      'eventflow-seq': String(event.seq),
      'eventflow-attempt': String((item.retry?.attempts ?? 0) + 1),
      ...traceparentOf(meta.context.trace_id),
    },
  });
}

/** A W3C trace context for the webhook when the event's trace_id is a W3C trace id. */
function traceparentOf(traceId: string | undefined): Record<string, string> {
  if (!traceId || !/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId)) return {};
  return { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

/** Exponential from initial_delay_ms, capped at max_delay_ms, with "equal jitter". */
export function backoffMs(settings: DeliverySettings, budgetUsed: number): number {
  const ceiling = Math.min(settings.max_delay_ms, settings.initial_delay_ms * 2 ** Math.min(budgetUsed - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function toChunkResult(group: GroupConfig, lanes: Lane[], outcomes: Outcomes): ChunkResult {
  const chunk: ChunkResult = {
    groupId: group.id,
    organizationId: group.organizationId,
    attempts: [],
    clearedRetries: [],
    retries: [],
    deadLetters: [],
    resolvedDeadLetters: [],
    cursors: [],
  };
  for (const lane of lanes) {
    let cursor = lane.scanEnd;
    for (const item of lane.items) {
      const outcome = outcomes.get(item);
      if (!outcome) {
        // Not started (ordered stop, or interrupted): the cursor stays below it.
        if (!item.retry) cursor = Math.min(cursor, item.event.seq - 1);
        continue;
      }
      recordOutcome(chunk, group.delivery, item, outcome);
    }
    chunk.cursors.push({ streamId: lane.offset.streamId, generation: lane.offset.generation, cursorSeq: Math.max(cursor, lane.offset.cursorSeq) });
  }
  return chunk;
}

function recordOutcome(chunk: ChunkResult, settings: DeliverySettings, item: Item, outcome: DeliveryOutcome): void {
  const { event, offset, retry } = item;
  const attempts = (retry?.attempts ?? 0) + 1;
  const key = { streamId: offset.streamId, seq: event.seq };
  chunk.attempts.push({
    ...key,
    eventId: event.id,
    attempt: attempts,
    status: outcome.status,
    statusCode: outcome.statusCode,
    error: outcome.status === 'delivered' ? null : outcome.error,
    responseBody: outcome.responseBody,
    durationMs: outcome.durationMs,
  });
  const deadLetterId = retry?.deadLetterId ?? null;
  if (outcome.status === 'delivered') {
    if (retry) chunk.clearedRetries.push(key);
    if (deadLetterId) chunk.resolvedDeadLetters.push(deadLetterId);
    return;
  }
  const budgetUsed = (retry?.budgetUsed ?? 0) + 1;
  const failure = { lastError: outcome.error, lastStatusCode: outcome.statusCode };
  if (budgetUsed >= settings.max_attempts) {
    if (retry) chunk.clearedRetries.push(key);
    chunk.deadLetters.push({ ...key, eventId: event.id, attempts, deadLetterId, ...failure });
    return;
  }
  chunk.retries.push({
    ...key,
    eventId: event.id,
    attempts,
    budgetUsed,
    nextAttemptAt: new Date(Date.now() + backoffMs(settings, budgetUsed)),
    deadLetterId,
    ...failure,
  });
}

/** One log line per attempt, with the event's trace context, and the delivery metrics. */
function reportAttempt(log: Logger, metrics: Metrics, item: Item, outcome: DeliveryOutcome): void {
  metrics.deliveries.inc({ outcome: outcome.status });
  metrics.attemptDuration.observe({ outcome: outcome.status }, outcome.durationMs / 1000);
  const context = item.event.metadata.context;
  log[outcome.status === 'delivered' ? 'info' : 'warn'](
    {
      stream: item.offset.streamName,
      event_id: item.event.id,
      seq: item.event.seq,
      attempt: (item.retry?.attempts ?? 0) + 1,
      outcome: outcome.status,
      status_code: outcome.statusCode,
      error: outcome.status === 'delivered' ? undefined : outcome.error,
      ms: outcome.durationMs,
      trace_id: context.trace_id,
      correlation_id: context.correlation_id,
    },
    'delivery attempt',
  );
}
