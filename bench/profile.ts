// `npm run bench:profile [-- --batch]`: where the time goes under ingest load. Runs the
// bench's single-event scenario (or its batches of 100) with the service under
// `--cpu-prof` and prints the functions with the most self time; on the Postgres side it
// samples what each backend waits on (pg_stat_activity, every 10 ms) and, on the embedded
// Postgres, prints the statements with the most execution time (pg_stat_statements).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { ingestBatch, ingestSingle } from './scenarios.ts';
import { createDatabase, freePort, root, sleep } from './support.ts';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** The embedded Postgres, restarted once with pg_stat_statements loaded. */
async function embeddedWithStatements(dir: string): Promise<EmbeddedPostgres> {
  const port = await freePort();
  const first = await startEmbeddedPostgres(dir, port, createLogger('warn'));
  const admin = new pg.Client({ connectionString: first.url });
  await admin.connect();
  await admin.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
  await admin.end();
  await first.stop();
  return startEmbeddedPostgres(dir, port, createLogger('warn'));
}

/** Samples pg_stat_activity of the database: each active backend's statement and wait. */
class WaitSampler {
  readonly #url: string;
  readonly #counts = new Map<string, number>();
  samples = 0;

  constructor(url: string) {
    this.#url = url;
  }

  async during<T>(run: () => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.#url, application_name: 'profile-sampler' });
    await client.connect();
    let running = true;
    const sampling = (async () => {
      while (running) {
        const { rows } = await client.query<{ app: string; wait: string | null; statement: string }>(
          `select application_name as app, wait_event_type || ':' || wait_event as wait, left(query, 40) as statement
           from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
        );
        this.samples++;
        for (const row of rows) {
          const key = `${row.app} ${row.wait ?? 'on CPU'}  ${row.statement.replace(/\s+/g, ' ').trim()}`;
          this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
        }
        await sleep(10);
      }
    })();
    try {
      return await run();
    } finally {
      running = false;
      await sampling;
      await client.end();
    }
  }

  top(n: number): [string, number][] {
    return [...this.#counts].sort((a, b) => b[1] - a[1]).slice(0, n);
  }
}

const batched = process.argv.includes('--batch');
const profileDir = path.join(root, 'bench/profiles');
await rm(profileDir, { recursive: true, force: true });

const dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-profile-'));
const postgres = process.env.DATABASE_URL ? undefined : await embeddedWithStatements(dataDir);
const databaseUrl = await createDatabase(process.env.DATABASE_URL ?? postgres!.url, `eventflow_profile_${process.pid}`);
const statements = postgres ? new pg.Client({ connectionString: databaseUrl }) : undefined;
await statements?.connect();
await statements?.query('create extension if not exists pg_stat_statements');
await statements?.query('select pg_stat_statements_reset()');
const waits = new WaitSampler(databaseUrl);
const profiling = { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` };
// The bench's own ingest scenarios, with the service under the profiler.
const measured = await waits.during(() => (batched ? ingestBatch(databaseUrl, 300_000, profiling) : ingestSingle(databaseUrl, 30_000, profiling)));
const topStatements = await statements?.query<{ calls: string; total_ms: string; mean_ms: string; wal_bytes: string; statement: string }>(
  `select calls, round(total_exec_time::numeric) as total_ms, round(mean_exec_time::numeric, 3) as mean_ms,
     round(wal_bytes / greatest(calls, 1)) as wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) as statement
   from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
     and query not like '%pg_stat_activity%'
   order by total_exec_time desc limit 8`,
);
await statements?.end();
await postgres?.stop();
await rm(dataDir, { recursive: true, force: true });

process.stdout.write(`${batched ? 'batches of 100, 8 clients' : 'single events, 16 clients'}: ${Math.round(measured.figure)} events/s`);
process.stdout.write(measured.p99 === undefined ? '\n' : `, p50 ${measured.p50!.toFixed(1)} ms, p99 ${measured.p99.toFixed(1)} ms\n`);
const [file] = await readdir(profileDir);
const profile = JSON.parse(await readFile(path.join(profileDir, file!), 'utf8')) as Profile;
const byFunction = new Map<string, number>();
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
let total = 0;
profile.samples.forEach((id, index) => {
  const frame = nodes.get(id)!.callFrame;
  const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
  const delta = profile.timeDeltas[index] ?? 0;
  byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
  total += delta;
});
process.stdout.write(`self time of the EventFlow process (profile in bench/profiles/${file}):\n`);
for (const [name, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  process.stdout.write(`${((time / total) * 100).toFixed(1).padStart(6)}%  ${name}\n`);
}

process.stdout.write(`\nPostgres backends, sampled every 10 ms (${waits.samples} samples; % of samples that saw a backend so):\n`);
for (const [what, count] of waits.top(14)) process.stdout.write(`${((count / waits.samples) * 100).toFixed(1).padStart(6)}%  ${what}\n`);
if (topStatements) {
  process.stdout.write('\nstatements with the most execution time (pg_stat_statements; commit and WAL flush not included):\n');
  for (const row of topStatements.rows) {
    process.stdout.write(`${row.total_ms.padStart(7)} ms  ${row.calls.padStart(7)} calls  ${row.mean_ms.padStart(7)} ms each  ${row.wal_bytes.padStart(7)} WAL bytes each  ${row.statement}\n`);
  }
}
