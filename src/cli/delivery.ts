import { InvalidArgumentError, type Command } from 'commander';
import type { ApiClient } from './client.ts';
import { query } from './client.ts';
import { contextOf, integer, list } from './context.ts';
import { print, printRecord, say, truncate, type Output } from './output.ts';

interface Offset {
  stream: string;
  committed_seq: number;
  last_seq: number;
  lag: number;
}

interface Group {
  id: string;
  name: string;
  streams: string[];
  webhook_url: string;
  event_types: string[];
  status: string;
  delivery: { mode: string; max_in_flight: number; max_attempts: number };
  offsets: Offset[];
  dead_letters_pending: number;
}

interface DeadLetter {
  id: string;
  group_id: string;
  stream: string;
  seq: number;
  attempts: number;
  last_error: string | null;
  last_status_code: number | null;
  status: string;
  dead_lettered_at: string;
}

const lagOf = (group: Group) => group.offsets.map((o) => `${o.stream}:${o.lag}`).join(' ');

const printGroups = (output: Output, groups: Group[]) =>
  print(
    output,
    groups,
    () => groups.map((g) => [g.id, g.name, g.status, g.delivery.mode, lagOf(g), g.dead_letters_pending, g.webhook_url]),
    ['id', 'name', 'status', 'mode', 'lag', 'dead letters', 'webhook_url'],
  );

const printOffsets = (output: Output, group: Group) =>
  print(output, group.offsets, () => group.offsets.map((o) => [o.stream, o.committed_seq, o.last_seq, o.lag]), ['stream', 'committed_seq', 'last_seq', 'lag']);

const printDeadLetters = (output: Output, rows: DeadLetter[]) =>
  print(
    output,
    rows,
    () => rows.map((d) => [d.id, d.stream, d.seq, d.status, d.attempts, d.last_status_code, truncate(d.last_error, 50), d.dead_lettered_at]),
    ['id', 'stream', 'seq', 'status', 'attempts', 'code', 'last error', 'dead-lettered at'],
  );

/** `earliest`, `latest`, a seq, or an RFC 3339 time. */
function resetTarget(value: string): unknown {
  if (value === 'earliest' || value === 'latest') return value;
  if (/^\d+$/.test(value)) return { seq: Number(value) };
  if (!Number.isNaN(Date.parse(value))) return { time: value };
  throw new InvalidArgumentError('expected earliest, latest, a seq or an RFC 3339 time');
}

async function setStatus(api: ApiClient, output: Output, id: string, status: 'active' | 'paused'): Promise<void> {
  const group = await api.patch<Group>(`/v1/consumer-groups/${id}`, { status });
  say(output, `group ${group.name} is ${group.status}`, group);
}

export function registerDelivery(program: Command): void {
  const groups = program.command('groups').description('consumer groups');
  groups
    .command('create')
    .description('create a consumer group (its signing secret is shown once)')
    .requiredOption('--name <name>', 'group name')
    .requiredOption('--streams <list>', 'comma-separated streams', list)
    .requiredOption('--webhook-url <url>', 'where to POST the events')
    .option('--event-types <list>', 'only these types (default: all)', list)
    .option('--start-from <where>', 'latest or earliest', 'latest')
    .option('--mode <mode>', 'parallel or ordered')
    .option('--max-in-flight <n>', 'parallel deliveries at most', integer)
    .option('--timeout-ms <ms>', 'per attempt', integer)
    .option('--max-attempts <n>', 'before a dead letter', integer)
    .option('--initial-delay-ms <ms>', 'first retry delay', integer)
    .option('--max-delay-ms <ms>', 'largest retry delay', integer)
    .action(async (o: { name: string; streams: string[]; webhookUrl: string; eventTypes?: string[]; startFrom: string; mode?: string; maxInFlight?: number; timeoutMs?: number; maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number }, command: Command) => {
      const { api, output } = contextOf(command);
      const delivery = Object.fromEntries(
        Object.entries({ mode: o.mode, max_in_flight: o.maxInFlight, timeout_ms: o.timeoutMs, max_attempts: o.maxAttempts, initial_delay_ms: o.initialDelayMs, max_delay_ms: o.maxDelayMs }).filter(([, v]) => v !== undefined),
      );
      const group = await api.post<Group & { secret: string }>('/v1/consumer-groups', {
        name: o.name,
        streams: o.streams,
        webhook_url: o.webhookUrl,
        event_types: o.eventTypes,
        start_from: o.startFrom,
        delivery,
      });
      print(output, group, () => [[group.id, group.name, group.status, lagOf(group), group.secret]], ['id', 'name', 'status', 'lag', 'secret (shown once)']);
    });
  groups
    .command('list')
    .description('list groups with their lag per stream')
    .action(async (_options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      printGroups(output, await api.all<Group>('/v1/consumer-groups'));
    });
  groups
    .command('show <id>')
    .description('show a group')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const group = await api.get<Group>(`/v1/consumer-groups/${id}`);
      printGroups(output, [group]);
      if (!output.json) printOffsets(output, group);
    });
  groups
    .command('pause <id>')
    .description('stop starting deliveries (offsets are kept)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      await setStatus(api, output, id, 'paused');
    });
  groups
    .command('resume <id>')
    .description('resume deliveries; the group catches up')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      await setStatus(api, output, id, 'active');
    });
  groups
    .command('delete <id>')
    .description('delete a group; its pending dead letters are discarded')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      await api.delete(`/v1/consumer-groups/${id}`);
      say(output, `group ${id} deleted`, { id, deleted: true });
    });
  groups
    .command('rotate-secret <id>')
    .description('new signing secret; the old one signs beside it for 24 h')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const result = await api.post<{ secret: string }>(`/v1/consumer-groups/${id}/rotate-secret`);
      print(output, result, () => [[result.secret]], ['new secret (shown once)']);
    });

  const offsets = program.command('offsets').description("a group's committed offsets");
  offsets
    .command('show <group>')
    .description('committed_seq, last_seq and lag per stream')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      printOffsets(output, await api.get<Group>(`/v1/consumer-groups/${id}`));
    });
  offsets
    .command('reset <group>')
    .description('set committed_seq; every event after it is delivered again (dry run without --yes)')
    .requiredOption('--stream <stream>', 'the stream')
    .requiredOption('--to <target>', 'earliest, latest, a seq, or an RFC 3339 time', resetTarget)
    .option('--yes', 'execute the reset')
    .action(async (id: string, o: { stream: string; to: unknown; yes?: boolean }, command: Command) => {
      const { api, output } = contextOf(command);
      const group = await api.get<Group>(`/v1/consumer-groups/${id}`);
      const current = group.offsets.find((offset) => offset.stream === o.stream);
      if (!current) throw new Error(`group ${group.name} does not read stream ${o.stream}`);
      if (!o.yes) {
        say(output, `would reset ${group.name} on ${o.stream} from committed_seq ${current.committed_seq} to ${JSON.stringify(o.to)} (last_seq ${current.last_seq}); add --yes to execute`, { dry_run: true, group: group.id, stream: o.stream, committed_seq: current.committed_seq, to: o.to });
        return;
      }
      const result = await api.post<{ stream: string; committed_seq: number }>(`/v1/consumer-groups/${id}/offsets/reset`, { stream: o.stream, to: o.to });
      say(output, `${group.name} on ${result.stream}: committed_seq ${current.committed_seq} -> ${result.committed_seq}; ${current.last_seq - result.committed_seq} events will be delivered again`, result);
    });

  const dlq = program.command('dlq').description('dead letters');
  dlq
    .command('list')
    .description('list dead letters')
    .option('--group <id>', 'of this group')
    .option('--stream <stream>', 'of this stream')
    .option('--status <status>', 'pending, retrying, resolved or discarded')
    .action(async (o: { group?: string; stream?: string; status?: string }, command: Command) => {
      const { api, output } = contextOf(command);
      printDeadLetters(output, await api.all<DeadLetter>(`/v1/dead-letters${query({ group_id: o.group, stream: o.stream, status: o.status })}`));
    });
  dlq
    .command('show <id>')
    .description('show a dead letter')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      printRecord(output, { ...(await api.get<DeadLetter>(`/v1/dead-letters/${id}`)) });
    });
  dlq
    .command('retry <id>')
    .description('deliver again with a fresh attempt budget')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const dead = await api.post<DeadLetter>(`/v1/dead-letters/${id}/retry`);
      say(output, `dead letter ${id} is ${dead.status}`, dead);
    });
  dlq
    .command('retry-all')
    .description('retry every pending dead letter that matches (dry run without --yes)')
    .option('--group <id>', 'of this group')
    .option('--stream <stream>', 'of this stream')
    .option('--before <time>', 'dead-lettered before this time')
    .option('--yes', 'execute the retry')
    .action(async (o: { group?: string; stream?: string; before?: string; yes?: boolean }, command: Command) => {
      const { api, output } = contextOf(command);
      if (!o.yes) {
        const pending = await api.all<DeadLetter>(`/v1/dead-letters${query({ group_id: o.group, stream: o.stream, status: 'pending' })}`);
        const matching = o.before ? pending.filter((d) => d.dead_lettered_at < new Date(o.before!).toISOString()) : pending;
        say(output, `would retry ${matching.length} pending dead letters; add --yes to execute`, { dry_run: true, matching: matching.length });
        return;
      }
      const result = await api.post<{ queued: number }>('/v1/dead-letters/retry', { group_id: o.group, stream: o.stream, dead_lettered_before: o.before });
      say(output, `${result.queued} dead letters queued for retry`, result);
    });
  dlq
    .command('discard <id>')
    .description('discard a dead letter')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const dead = await api.post<DeadLetter>(`/v1/dead-letters/${id}/discard`);
      say(output, `dead letter ${id} is ${dead.status}`, dead);
    });

  program
    .command('deliveries')
    .description('delivery attempts')
    .command('list <group>')
    .description("a group's delivery attempts, newest first")
    .option('--status <status>', 'delivered, failed or blocked')
    .option('--limit <n>', 'at most this many (1..1000)', integer, 50)
    .action(async (id: string, o: { status?: string; limit: number }, command: Command) => {
      const { api, output } = contextOf(command);
      type Attempt = { at: string; stream: string; seq: number; attempt: number; status: string; status_code: number | null; duration_ms: number; error: string | null };
      const page = await api.get<{ data: Attempt[] }>(`/v1/consumer-groups/${id}/deliveries${query({ status: o.status, limit: o.limit })}`);
      print(output, page.data, () => page.data.map((a) => [a.at, a.stream, a.seq, a.attempt, a.status, a.status_code, a.duration_ms, truncate(a.error, 40)]), ['at', 'stream', 'seq', 'attempt', 'status', 'code', 'ms', 'error']);
    });
}
