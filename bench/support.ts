import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { Pool } from 'undici';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SECRET_KEY = Buffer.alloc(32, 9).toString('base64');
export const ADMIN_TOKEN = 'bench-platform-token-0123456789';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A fresh, empty database on the bench's server. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CPU cores in use on average over a measured span, by part (Postgres undefined when it runs elsewhere). */
export interface CpuShare {
  eventflow: number | undefined;
  postgres: number | undefined;
  bench: number;
  cores: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

interface ProcStat {
  name: string;
  parent: number;
  /** utime + stime, in seconds. */
  cpu: number;
  /** cutime + cstime: the children it has reaped, in seconds. */
  childrenCpu: number;
}

/** /proc/<pid>/stat, the fields these measurements use. */
function procStat(pid: number | string): ProcStat {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": state is [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    parent: fields[1]!,
    cpu: (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_SECOND,
    childrenCpu: (fields[13]! + fields[14]!) / CLOCK_TICKS_PER_SECOND,
  };
}

/** Every postgres process on this machine, live backends and (through the postmaster) exited ones. */
function postgresCpuSeconds(): number | undefined {
  const processes = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = procStat(entry);
      if (stat.name === 'postgres') processes.set(Number(entry), stat);
    } catch {
      // exited while listed
    }
  }
  if (processes.size === 0) return undefined;
  let seconds = 0;
  for (const stat of processes.values()) seconds += stat.cpu + (processes.has(stat.parent) ? 0 : stat.childrenCpu);
  return seconds;
}

/** Measures where the machine's CPU goes while `run` runs: EventFlow, Postgres, the bench (and its receiver). */
export async function measureCpu<T>(pids: { eventflow?: number; receiver?: number }, run: () => Promise<T>): Promise<{ result: T; cpu: CpuShare }> {
  const read = () => {
    const own = process.cpuUsage();
    return {
      eventflow: pids.eventflow === undefined ? undefined : procStat(pids.eventflow).cpu,
      postgres: postgresCpuSeconds(),
      bench: (own.user + own.system) / 1e6 + (pids.receiver === undefined ? 0 : procStat(pids.receiver).cpu),
      at: performance.now(),
    };
  };
  const before = read();
  const result = await run();
  const after = read();
  const seconds = (after.at - before.at) / 1000;
  const cores = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? undefined : (to - from) / seconds);
  return {
    result,
    cpu: {
      eventflow: cores(before.eventflow, after.eventflow),
      postgres: cores(before.postgres, after.postgres),
      bench: (after.bench - before.bench) / seconds,
      cores: availableParallelism(),
    },
  };
}

/** The EventFlow service as its own process, so its memory and CPU are its own. */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly url: string;

  private constructor(child: ChildProcess, url: string) {
    this.child = child;
    this.url = url;
  }

  static async start(databaseUrl: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    // The same V8 flags as `npm start` (package.json): 16 MB young-generation semi-spaces
    // and a 512 MB old space, which makes V8 collect garbage before the heap grows
    // (a 5-group backlog peaked at 399 MB without the cap, 221 MB with it).
    const child = spawn(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=512', path.join(root, 'src/main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        EVENTFLOW_SECRET_KEY: SECRET_KEY,
        EVENTFLOW_ADMIN_TOKEN: ADMIN_TOKEN,
        WEBHOOK_ALLOW_PRIVATE: 'true',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    for (let tries = 0; ; tries++) {
      if (child.exitCode !== null) throw new Error(`EventFlow exited with ${child.exitCode}`);
      const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (tries > 300) throw new Error('EventFlow did not become ready');
      await sleep(100);
    }
    return new ServiceProcess(child, url);
  }

  /** Peak resident memory since the process started (VmHWM), in MB. */
  peakRssMb(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  }

  /** Append commits so far and the events they wrote (its eventflow_append_commit_events). */
  async appendCommits(): Promise<{ commits: number; events: number }> {
    const families = parsePrometheusTextFormat(await (await fetch(`${this.url}/metrics`)).text());
    const histogram = families.find((family) => family.name === 'eventflow_append_commit_events')?.metrics[0];
    return { commits: Number(histogram?.count ?? 0), events: Number(histogram?.sum ?? 0) };
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** A JSON client for the service, over a keep-alive pool. */
export class Client {
  readonly pool: Pool;
  readonly token: string;

  constructor(url: string, token: string, connections = 32) {
    this.pool = new Pool(url, { connections, pipelining: 1 });
    this.token = token;
  }

  async call<T = any>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await this.pool.request({
      method,
      path,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export async function setUpTenant(url: string): Promise<Client> {
  const platform = new Client(url, ADMIN_TOKEN, 1);
  const org = await platform.call('POST', '/v1/organizations', { name: 'bench', slug: `bench-${Date.now()}` });
  await platform.close();
  if (org.status !== 201) throw new Error(`organization: ${org.status} ${JSON.stringify(org.body)}`);
  return new Client(url, org.body.api_key.key as string);
}

/** The receiver process (bench/receiver-process.ts), driven over IPC. */
export class Receiver {
  readonly #child: ChildProcess;
  url = '';

  constructor() {
    this.#child = fork(path.join(root, 'bench/receiver-process.ts'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async start(): Promise<this> {
    const { port } = await this.#ask<{ port: number }>(undefined, 'ready');
    this.url = `http://127.0.0.1:${port}/hooks`;
    return this;
  }

  #ask<T>(message: { type: string } | undefined, reply: string): Promise<T> {
    return new Promise((resolve) => {
      const onMessage = (answer: { type: string } & T) => {
        if (answer.type !== reply) return;
        this.#child.off('message', onMessage);
        resolve(answer);
      };
      this.#child.on('message', onMessage);
      if (message) this.#child.send(message);
    });
  }

  async count(): Promise<number> {
    return (await this.#ask<{ count: number }>({ type: 'count' }, 'count')).count;
  }

  /** When each event id first arrived, as epoch ms. */
  async arrivals(): Promise<Map<string, number>> {
    return new Map((await this.#ask<{ arrivals: [string, number][] }>({ type: 'arrivals' }, 'arrivals')).arrivals);
  }

  async reset(): Promise<void> {
    await this.#ask({ type: 'reset' }, 'reset');
  }

  /** Resolves once `target` requests arrived; rejects after `timeoutMs`. */
  async until(target: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const count = await this.count();
      if (count >= target) return;
      if (Date.now() > deadline) throw new Error(`only ${count} of ${target} deliveries within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  stop(): void {
    this.#child.kill();
  }
}

/** Runs `total` tasks with `concurrency` at a time. */
export async function runConcurrently(total: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
}
