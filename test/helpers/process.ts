import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

/**
 * Runs `src/main.ts` as a real child process and resolves once it logs that it listens
 * (a worker-only process listens too, for /healthz, /readyz and /metrics).
 */
export async function spawnService(env: Record<string, string | undefined>): Promise<ServiceProcess> {
  const { DATABASE_URL: _inherited, ...base } = process.env;
  const child = spawn(process.execPath, [path.join(root, 'src/main.ts')], {
    cwd: root,
    env: { ...base, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        stdout.push(line);
        const parsed = tryParse(line);
        if (parsed?.msg === 'eventflow listening') resolve(parsed.url as string);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
    void exited.then((code) => reject(new Error(`service exited with ${code} before it was ready:\n${stderr.join('')}\n${stdout.join('\n')}`)));
  });
  return { child, url: await ready, stdout, stderr, exited };
}

function tryParse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
