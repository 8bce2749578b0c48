// `npm run bench:profile [-- --batch 100]`: where the EventFlow process spends its time
// under ingest load. Runs the service with `--cpu-prof`, sends 16 clients of single events
// (or 8 clients of batches), and prints the functions with the most self time.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { sampleEvent } from './raw.ts';
import { createDatabase, freePort, percentile, root, runConcurrently, ServiceProcess, setUpTenant } from './support.ts';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const batchArgument = process.argv.indexOf('--batch');
const batch = batchArgument > 0 ? Number(process.argv[batchArgument + 1]) : 0;
const requests = batch ? 3_000 : 30_000;
const clients = batch ? 8 : 16;
const profileDir = path.join(root, 'bench/profiles');
await rm(profileDir, { recursive: true, force: true });

const dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-profile-'));
const postgres = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres(dataDir, await freePort(), createLogger('warn'));
const databaseUrl = await createDatabase(process.env.DATABASE_URL ?? postgres!.url, `eventflow_profile_${process.pid}`);
const service = await ServiceProcess.start(databaseUrl, { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` });
const api = await setUpTenant(service.url);
await api.call('POST', '/v1/streams', { name: 'profiled' });
const body = { events: Array.from({ length: batch }, () => sampleEvent) };
const latencies: number[] = [];
const send = async () => {
  const started = performance.now();
  const response = batch
    ? await api.call('POST', '/v1/streams/profiled/events/batch', body)
    : await api.call('POST', '/v1/streams/profiled/events', sampleEvent);
  if (response.status !== 201) throw new Error(`ingest: ${response.status}`);
  latencies.push(performance.now() - started);
};
await runConcurrently(requests / 10, clients, send);
latencies.length = 0;
const started = performance.now();
await runConcurrently(requests, clients, send);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
await api.close();
await service.stop();
await postgres?.stop();
await rm(dataDir, { recursive: true, force: true });

const events = requests * (batch || 1);
process.stdout.write(`${batch ? `batches of ${batch}, ${clients} clients` : `single events, ${clients} clients`}: `);
process.stdout.write(`${Math.round(events / seconds)} events/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms\n`);
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
