// `npm run bench [-- --quick]`: EventFlow's figures beside the raw limits of this machine,
// measured in the same run on the same Postgres and receiver. Prints a table and writes
// bench/results.json. Bounded in count and time; everything stays on 127.0.0.1.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { naivePipeline } from './naive.ts';
import { rawBatchInserts, rawPosts, rawSingleInserts } from './raw.ts';
import { deliverBacklog, endToEnd, fillHistory, ingestBatch, ingestSingle, type Measured } from './scenarios.ts';
import { createDatabase, freePort, Receiver, root, type CpuShare } from './support.ts';

const quick = process.argv.includes('--quick');
const size = quick
  ? { batch: 10_000, single: 2_000, backlog: 5_000, fanout: 2_000, ordered: 2_000, e2eSeconds: 3, naiveSeconds: 3, posts: 5_000, history: 200_000 }
  : { batch: 200_000, single: 40_000, backlog: 50_000, fanout: 20_000, ordered: 20_000, e2eSeconds: 20, naiveSeconds: 10, posts: 20_000, history: 5_000_000 };

interface Row {
  scenario: string;
  figure: string;
  value: number;
  limit?: { name: string; value: number };
  ratio?: number;
  target: string;
  /** Undefined for a figure shown without a target. */
  met?: boolean;
  peakRssMb?: number;
  /** What the time went to: append commits and the CPU split, where measured. */
  where?: string;
}

const rows: Row[] = [];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function record(row: Row): void {
  rows.push(row);
  const ratio = row.ratio === undefined ? '' : ` (${row.ratio.toFixed(2)}x of ${row.limit!.name} ${fmt(row.limit!.value)}/s)`;
  process.stdout.write(`  ${row.met === undefined ? 'info' : row.met ? 'ok  ' : 'MISS'} ${row.scenario}: ${row.figure}${ratio}; target ${row.target}\n`);
  if (row.where) process.stdout.write(`       ${row.where}\n`);
}

/** CPU in use on average, by part, as cores of the machine's. */
function cpuSplit(cpu: CpuShare): string {
  const part = (cores: number | undefined) => (cores === undefined ? 'not measured' : fmt(cores, 2));
  const parts = [`Postgres ${part(cpu.postgres)}`, `bench ${part(cpu.bench)}`];
  if (cpu.eventflow !== undefined) parts.unshift(`EventFlow ${part(cpu.eventflow)}`);
  return `CPU cores in use (of ${cpu.cores}): ${parts.join(', ')}`;
}

function whereTimeWent(measured: Measured): string {
  const commits = measured.commits ? `${fmt(measured.commits.perSecond)} append commits/s of ${fmt(measured.commits.eventsEach, 1)} events; ` : '';
  return `${commits}${measured.cpu ? cpuSplit(measured.cpu) : ''}`;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-bench-'));
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres(dataDir, await freePort(), createLogger('warn'));
  const adminUrl = process.env.DATABASE_URL ?? embedded!.url;
  const receiver = await new Receiver().start();
  let database = 0;
  const fresh = () => createDatabase(adminUrl, `eventflow_bench_${process.pid}_${++database}`);
  process.stdout.write(`EventFlow benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n`);

  try {
    const limitsDb = await fresh();
    process.stdout.write('raw limits\n');
    const rawBatchFour = await rawBatchInserts(limitsDb, size.batch, 4);
    // Appends to one stream take turns on its row lock, so one connection is their ceiling.
    const rawBatchOne = await rawBatchInserts(limitsDb, size.batch, 1);
    const rawSingleSixteen = await rawSingleInserts(limitsDb, size.single, 16);
    const rawPost = await rawPosts(receiver.url, size.posts, 32);
    process.stdout.write(`  100-row INSERTs, 4 connections: ${fmt(rawBatchFour.perSecond)} rows/s; ${cpuSplit(rawBatchFour.cpu)}\n`);
    process.stdout.write(`  100-row INSERTs, 1 connection: ${fmt(rawBatchOne.perSecond)} rows/s; ${cpuSplit(rawBatchOne.cpu)}\n`);
    process.stdout.write(`  1-row transactions, 16 connections: ${fmt(rawSingleSixteen.perSecond)} rows/s; ${cpuSplit(rawSingleSixteen.cpu)}\n`);
    process.stdout.write(`  undici keep-alive signed POSTs, 32 in flight: ${fmt(rawPost)} requests/s\n`);
    const rawBatch = rawBatchFour.perSecond;
    const rawSingle = rawSingleSixteen.perSecond;
    const posts = { name: 'raw POSTs', value: rawPost };

    process.stdout.write('scenarios\n');
    const batch = await ingestBatch(await fresh(), size.batch);
    record({ scenario: 'ingest, batches of 100, 8 clients', figure: `${fmt(batch.figure)} events/s (${(batch.figure / rawBatchOne.perSecond).toFixed(2)}x of 1 connection)`, value: batch.figure, limit: { name: 'raw 100-row INSERTs', value: rawBatch }, ratio: batch.figure / rawBatch, target: '>= 0.6x', met: batch.figure / rawBatch >= 0.6, peakRssMb: batch.peakRssMb, where: whereTimeWent(batch) });

    const single = await ingestSingle(await fresh(), size.single);
    record({ scenario: 'ingest, 1 event per request, 16 clients', figure: `${fmt(single.figure)} events/s, p50 ${fmt(single.p50!, 1)} ms, p99 ${fmt(single.p99!, 1)} ms`, value: single.figure, limit: { name: 'raw 1-row transactions', value: rawSingle }, ratio: single.figure / rawSingle, target: '>= 1.0x, p99 <= 50 ms', met: single.figure / rawSingle >= 1 && single.p99! <= 50, peakRssMb: single.peakRssMb, where: whereTimeWent(single) });

    // Not in the table: the same load over 16 streams, whose commits need not take turns.
    const spread = await ingestSingle(await fresh(), size.single, undefined, 16);
    record({ scenario: 'ingest, 1 event per request, 16 clients over 16 streams', figure: `${fmt(spread.figure)} events/s, p50 ${fmt(spread.p50!, 1)} ms, p99 ${fmt(spread.p99!, 1)} ms`, value: spread.figure, limit: { name: 'raw 1-row transactions', value: rawSingle }, ratio: spread.figure / rawSingle, target: 'none (shown for comparison)', peakRssMb: spread.peakRssMb, where: whereTimeWent(spread) });

    const parallel = await deliverBacklog(await fresh(), receiver, size.backlog, { groups: 1, mode: 'parallel' });
    record({ scenario: `delivery, 1 parallel group, ${fmt(size.backlog)}-event backlog`, figure: `${fmt(parallel.figure)} deliveries/s`, value: parallel.figure, limit: posts, ratio: parallel.figure / rawPost, target: '>= 5,000/s', met: parallel.figure >= 5000, peakRssMb: parallel.peakRssMb, where: whereTimeWent(parallel) });

    const fanout = await deliverBacklog(await fresh(), receiver, size.fanout, { groups: 5, mode: 'parallel' });
    record({ scenario: `fan-out, 5 parallel groups x ${fmt(size.fanout)} events`, figure: `${fmt(fanout.figure)} deliveries/s in total`, value: fanout.figure, limit: posts, ratio: fanout.figure / rawPost, target: '>= 5,000/s', met: fanout.figure >= 5000, peakRssMb: fanout.peakRssMb, where: whereTimeWent(fanout) });

    const ordered = await deliverBacklog(await fresh(), receiver, size.ordered, { groups: 1, mode: 'ordered' });
    record({ scenario: `delivery, 1 ordered group, 1 stream, ${fmt(size.ordered)} events`, figure: `${fmt(ordered.figure)} deliveries/s`, value: ordered.figure, limit: posts, ratio: ordered.figure / rawPost, target: '>= 1,000/s', met: ordered.figure >= 1000, peakRssMb: ordered.peakRssMb, where: whereTimeWent(ordered) });

    const e2e = await endToEnd(await fresh(), receiver, 1000, size.e2eSeconds);
    record({ scenario: `end to end, 1,000 events/s offered for ${size.e2eSeconds} s`, figure: `${fmt(e2e.figure)} events/s, p50 ${fmt(e2e.p50!, 1)} ms, p99 ${fmt(e2e.p99!, 1)} ms`, value: e2e.p99!, target: 'p99 <= 50 ms', met: e2e.p99! <= 50, peakRssMb: e2e.peakRssMb });

    const naive = await naivePipeline(await fresh(), receiver, size.naiveSeconds);
    record({ scenario: 'naive pipeline: pg-boss, one job per delivery, jobs arriving', figure: `${fmt(naive)} deliveries/s`, value: naive, limit: posts, ratio: naive / rawPost, target: `EventFlow parallel >= 6x (${(parallel.figure / naive).toFixed(1)}x)`, met: parallel.figure / naive >= 6 });

    const historyDb = await fresh();
    const filled = await ingestBatch(historyDb, 1_000); // creates the schema
    void filled;
    process.stdout.write(`  filling ${fmt(size.history)} events of history...\n`);
    await fillHistory(historyDb, size.history);
    const afterHistory: Measured = await ingestBatch(historyDb, size.batch);
    const historyRatio = afterHistory.figure / batch.figure;
    record({ scenario: `ingest with ${fmt(size.history)} events stored, batches of 100`, figure: `${fmt(afterHistory.figure)} events/s`, value: afterHistory.figure, limit: { name: 'empty-table ingest', value: batch.figure }, ratio: historyRatio, target: '>= 0.8x', met: historyRatio >= 0.8, peakRssMb: afterHistory.peakRssMb });

    const peak = Math.max(...rows.map((r) => r.peakRssMb ?? 0));
    record({ scenario: 'memory: peak RSS of the EventFlow process, any scenario', figure: `${fmt(peak)} MB`, value: peak, target: '<= 300 MB', met: peak <= 300 });
  } finally {
    receiver.stop();
    await embedded?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  printTable();
  await writeFile(path.join(root, 'bench/results.json'), `${JSON.stringify({ quick, at: new Date().toISOString(), rows }, null, 2)}\n`);
}

function printTable(): void {
  const header = ['scenario', 'figure', 'raw limit (same run)', 'ratio', 'target', 'met', 'peak RSS'];
  const body = rows.map((r) => [
    r.scenario,
    r.figure,
    r.limit ? `${r.limit.name}: ${fmt(r.limit.value)}/s` : '-',
    r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target,
    r.met === undefined ? '-' : r.met ? 'yes' : 'NO',
    r.peakRssMb === undefined ? '-' : `${fmt(r.peakRssMb)} MB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${body.map(line).join('\n')}\n`);
}

await main();
