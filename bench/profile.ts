// `npm run bench:profile [-- --batch]`: where the EventFlow process spends its time under
// ingest load. Runs the bench's single-event scenario (or its batches of 100) with the
// service under `--cpu-prof`, and prints the functions with the most self time.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { ingestBatch, ingestSingle } from './scenarios.ts';
import { createDatabase, freePort, root } from './support.ts';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const batched = process.argv.includes('--batch');
const profileDir = path.join(root, 'bench/profiles');
await rm(profileDir, { recursive: true, force: true });

const dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-profile-'));
const postgres = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres(dataDir, await freePort(), createLogger('warn'));
const databaseUrl = await createDatabase(process.env.DATABASE_URL ?? postgres!.url, `eventflow_profile_${process.pid}`);
const profiling = { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` };
// The bench's own ingest scenarios, with the service under the profiler.
const measured = batched ? await ingestBatch(databaseUrl, 300_000, profiling) : await ingestSingle(databaseUrl, 30_000, profiling);
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
