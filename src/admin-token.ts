import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The platform token when EVENTFLOW_ADMIN_TOKEN is unset: generated once into
 * `<dataDir>/admin-token` (mode 0600) and reused by later starts.
 */
export async function readOrCreateAdminToken(dataDir: string): Promise<{ token: string; file: string }> {
  const file = path.resolve(dataDir, 'admin-token');
  if (existsSync(file)) return { token: (await readFile(file, 'utf8')).trim(), file };
  await mkdir(path.dirname(file), { recursive: true });
  const token = `efadm_${randomBytes(32).toString('base64url')}`;
  // 'wx' fails if another process created it first; then that one's token is the token.
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return { token: (await readFile(file, 'utf8')).trim(), file };
}
