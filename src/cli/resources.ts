import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { query } from './client.ts';
import { contextOf, integer, list } from './context.ts';
import { print, printRecord, say, truncate } from './output.ts';

interface Stream {
  id: string;
  name: string;
  description: string | null;
  last_seq: number;
  event_count: number;
  created_at: string;
}

interface Event {
  id: string;
  seq: number;
  type: string;
  version: number;
  occurred_at: string;
  source: string | null;
  payload: unknown;
  context: Record<string, string>;
}

const parseJson = (value: string): unknown => {
  try {
    return JSON.parse(value === '-' ? readFileSync(0, 'utf8') : value);
  } catch {
    throw new InvalidArgumentError('not valid JSON');
  }
};

const keyValue = (value: string, previous: Record<string, string> = {}): Record<string, string> => {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
};

const eventRows = (events: Event[]) =>
  events.map((e) => [e.seq, e.type, e.occurred_at, e.id, truncate(JSON.stringify(e.payload), 50)]);
const eventHead = ['seq', 'type', 'occurred_at', 'id', 'payload'];

export function registerResources(program: Command): void {
  const orgs = program.command('orgs').description('organizations (platform token)');
  orgs
    .command('create')
    .description('create an organization and its first admin key (shown once)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--slug <slug>', 'unique slug: lowercase letters, digits and dashes')
    .action(async (options: { name: string; slug: string }, command: Command) => {
      const { api, output } = contextOf(command);
      const org = await api.post<{ id: string; slug: string; api_key: { id: string; key: string } }>('/v1/organizations', options);
      print(output, org, () => [[org.id, org.slug, org.api_key.key]], ['id', 'slug', 'admin key (shown once)']);
    });

  const keys = program.command('keys').description('API keys of your organization');
  keys
    .command('create')
    .description('create a key (shown once)')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--scopes <list>', 'comma-separated: ingest, read, admin', list)
    .option('--streams <list>', 'limit the key to these streams', list)
    .option('--expires-at <time>', 'RFC 3339 expiry')
    .action(async (options: { name: string; scopes: string[]; streams?: string[]; expiresAt?: string }, command: Command) => {
      const { api, output } = contextOf(command);
      const key = await api.post<{ id: string; key: string; scopes: string[] }>('/v1/api-keys', {
        name: options.name,
        scopes: options.scopes,
        streams: options.streams,
        expires_at: options.expiresAt,
      });
      print(output, key, () => [[key.id, key.scopes.join(','), key.key]], ['id', 'scopes', 'key (shown once)']);
    });
  keys
    .command('list')
    .description('list keys (no secrets)')
    .action(async (_options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      type Key = { id: string; name: string; prefix: string; scopes: string[]; streams: string[] | null; expires_at: string | null; revoked_at: string | null; last_used_at: string | null };
      const all = await api.all<Key>('/v1/api-keys');
      print(output, all, () => all.map((k) => [k.id, k.name, k.prefix, k.scopes.join(','), k.streams?.join(',') ?? 'all', k.revoked_at ? 'revoked' : 'active', k.last_used_at]), ['id', 'name', 'prefix', 'scopes', 'streams', 'state', 'last used']);
    });
  keys
    .command('revoke <id>')
    .description('revoke a key')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      await api.delete(`/v1/api-keys/${id}`);
      say(output, `key ${id} revoked`, { id, revoked: true });
    });

  const streams = program.command('streams').description('event streams');
  streams
    .command('create <name>')
    .description('create a stream')
    .option('--description <text>', 'what the stream holds')
    .action(async (name: string, options: { description?: string }, command: Command) => {
      const { api, output } = contextOf(command);
      printRecord(output, { ...(await api.post<Stream>('/v1/streams', { name, description: options.description })) });
    });
  streams
    .command('list')
    .description('list streams')
    .action(async (_options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      const all = await api.all<Stream>('/v1/streams');
      print(output, all, () => all.map((s) => [s.name, s.last_seq, s.event_count, s.description]), ['name', 'last_seq', 'events', 'description']);
    });
  streams
    .command('show <name>')
    .description('show a stream')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { api, output } = contextOf(command);
      printRecord(output, { ...(await api.get<Stream>(`/v1/streams/${encodeURIComponent(name)}`)) });
    });

  const events = program.command('events').description('append and read events');
  events
    .command('send <stream>')
    .description('append one event')
    .requiredOption('--type <type>', 'event type')
    .option('--payload <json>', 'the payload, a JSON object ("-" reads stdin)', parseJson, {})
    .option('--id <uuid>', 'event id (made by the server when absent)')
    .option('--version <n>', 'schema version', integer)
    .option('--source <source>', 'producing service')
    .option('--occurred-at <time>', 'RFC 3339 time of the fact')
    .option('--context <key=value>', 'context entry (trace_id, correlation_id, ...); repeatable', keyValue)
    .action(async (stream: string, options: { type: string; payload: unknown; id?: string; version?: number; source?: string; occurredAt?: string; context?: Record<string, string> }, command: Command) => {
      const { api, output } = contextOf(command);
      const result = await api.post<{ id: string; seq: number; duplicate: boolean }>(`/v1/streams/${encodeURIComponent(stream)}/events`, {
        id: options.id,
        type: options.type,
        version: options.version,
        source: options.source,
        occurred_at: options.occurredAt,
        payload: options.payload,
        context: options.context,
      });
      print(output, result, () => [[result.seq, result.id, result.duplicate ? 'yes' : 'no']], ['seq', 'id', 'duplicate']);
    });
  events
    .command('list <stream>')
    .description('read events in seq order')
    .option('--after-seq <n>', 'only events after this seq', integer)
    .option('--type <type>', 'only this type')
    .option('--from <time>', 'occurred_at at or after')
    .option('--to <time>', 'occurred_at before')
    .option('--limit <n>', 'at most this many (1..1000)', integer, 100)
    .action(async (stream: string, options: { afterSeq?: number; type?: string; from?: string; to?: string; limit: number }, command: Command) => {
      const { api, output } = contextOf(command);
      const page = await api.get<{ data: Event[] }>(
        `/v1/streams/${encodeURIComponent(stream)}/events${query({ after_seq: options.afterSeq, type: options.type, from: options.from, to: options.to, limit: options.limit })}`,
      );
      print(output, page.data, () => eventRows(page.data), eventHead);
    });
  events
    .command('tail <stream>')
    .description('follow a stream live until Ctrl-C')
    .option('--after-seq <n>', 'start after this seq (default: the current last_seq)', integer)
    .option('--interval <ms>', 'poll interval', integer, 500)
    .action(async (stream: string, options: { afterSeq?: number; interval: number }, command: Command) => {
      const { api, output } = contextOf(command);
      const path = `/v1/streams/${encodeURIComponent(stream)}`;
      let after = options.afterSeq ?? (await api.get<Stream>(path)).last_seq;
      for (;;) {
        const page = await api.get<{ data: Event[] }>(`${path}/events${query({ after_seq: after, limit: 1000 })}`);
        for (const event of page.data) {
          process.stdout.write(output.json ? `${JSON.stringify(event)}\n` : `${event.seq}\t${event.type}\t${event.occurred_at}\t${JSON.stringify(event.payload)}\n`);
          after = event.seq;
        }
        if (page.data.length < 1000) await new Promise((resolve) => setTimeout(resolve, options.interval));
      }
    });
}
