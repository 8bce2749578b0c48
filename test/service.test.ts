import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiClient } from './helpers/client.ts';
import { freePort } from './helpers/ports.ts';
import { spawnService } from './helpers/process.ts';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'eventflow-service-'));
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

it('starts embedded Postgres with a generated admin token, restarts on the same data (after a SIGKILL too), and stops cleanly', async () => {
  const env = { EVENTFLOW_DATA_DIR: dataDir, EVENTFLOW_PG_PORT: String(await freePort()), PORT: String(await freePort()) };

  const first = await spawnService(env);
  const tokenFile = path.join(dataDir, 'admin-token');
  const token = (await readFile(tokenFile, 'utf8')).trim();
  expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
  expect(first.stderr.join('')).toContain(`platform admin token is in ${tokenFile}`);
  expect(first.stderr.join('') + first.stdout.join('')).not.toContain(token);

  const api = new ApiClient(first.url, token);
  expect((await api.get('/readyz')).status).toBe(200);
  const created = await api.post('/v1/organizations', { name: 'Persisted', slug: 'persisted' });
  expect(created.status).toBe(201);

  first.child.kill('SIGTERM');
  expect(await first.exited, first.stdout.join('\n') + first.stderr.join('')).toBe(0);
  expect(await portOpen(Number(env.EVENTFLOW_PG_PORT))).toBe(false);

  const second = await spawnService(env);
  expect(second.stderr.join('')).toContain(`platform admin token is in ${tokenFile}`);
  expect((await readFile(tokenFile, 'utf8')).trim()).toBe(token);
  const again = await new ApiClient(second.url, token).post('/v1/organizations', { name: 'Persisted', slug: 'persisted' });
  expect(again.status).toBe(409);
  const key = new ApiClient(second.url, created.body.api_key.key);
  expect((await key.get('/v1/streams')).status).toBe(200);

  // Killed outright, it leaves its postgres running; the next start takes over the data dir.
  second.child.kill('SIGKILL');
  await second.exited;
  expect(await portOpen(Number(env.EVENTFLOW_PG_PORT))).toBe(true);
  const third = await spawnService(env);
  expect((await new ApiClient(third.url, token).post('/v1/organizations', { name: 'Persisted', slug: 'persisted' })).status).toBe(409);

  third.child.kill('SIGINT');
  expect(await third.exited, third.stdout.join('\n') + third.stderr.join('')).toBe(0);
  expect(await portOpen(Number(env.EVENTFLOW_PG_PORT))).toBe(false);
});
