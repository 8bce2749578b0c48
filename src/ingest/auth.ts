import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { apiKeys, type Scope } from '../db/schema.ts';
import { EventFlowError } from '../errors.ts';
import type { Role, SessionUser } from './sessions.ts';

export type Principal =
  | { kind: 'platform' }
  | { kind: 'key'; keyId: string; organizationId: string; scopes: readonly Scope[]; streams: readonly string[] | null }
  | { kind: 'user'; userId: string; organizationId: string; role: Role; scopes: readonly Scope[]; streams: null };

/** Who acts inside an organization: an API key or a console user. */
export type TenantPrincipal = Extract<Principal, { kind: 'key' | 'user' }>;

/** A console session acts with its user's role: an admin may do what an admin key may, a viewer may read. */
export function userPrincipal(user: SessionUser): TenantPrincipal {
  return { kind: 'user', userId: user.userId, organizationId: user.organizationId, role: user.role, scopes: user.role === 'admin' ? ['admin'] : ['read'], streams: null };
}

const KEY_PATTERN = /^ef_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

/** 256 random bits of secret behind a 48-bit prefix that finds the row without revealing it. */
export function generateApiKey(): GeneratedKey {
  const prefix = randomBytes(6).toString('hex');
  const key = `ef_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: sha256(key) };
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

const unauthorized = () => new EventFlowError('unauthorized', 'missing, invalid, revoked or expired credentials');

interface CachedKey {
  row: typeof apiKeys.$inferSelect | undefined;
  loadedAt: number;
}

/**
 * Resolves bearer tokens. Key rows are cached for CACHE_MS so a busy producer costs no
 * query per request; the contract lets a revoked key work for at most 1 s, and every
 * process re-reads within CACHE_MS of a revocation.
 */
export class Authenticator {
  static readonly CACHE_MS = 500;
  readonly #db: Database;
  readonly #platformTokenHash: Buffer;
  readonly #cache = new Map<string, CachedKey>();

  constructor(db: Database, platformToken: string) {
    this.#db = db;
    this.#platformTokenHash = sha256(platformToken);
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthorized();
    const tokenHash = sha256(token);
    const match = KEY_PATTERN.exec(token);
    if (!match) {
      if (timingSafeEqual(tokenHash, this.#platformTokenHash)) return { kind: 'platform' };
      throw unauthorized();
    }
    const row = await this.#loadKey(match[1] as string);
    // Compared even when no row exists, so an unknown prefix and a wrong secret take the
    // same time and give the same answer.
    const valid = timingSafeEqual(tokenHash, row?.keyHash ?? this.#platformTokenHash) && row !== undefined;
    if (!valid || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) throw unauthorized();
    return { kind: 'key', keyId: row.id, organizationId: row.organizationId, scopes: row.scopes, streams: row.streams };
  }

  /** Drops a cached key at once in this process (other processes follow within CACHE_MS). */
  forget(prefix: string): void {
    this.#cache.delete(prefix);
  }

  async #loadKey(prefix: string): Promise<CachedKey['row']> {
    const cached = this.#cache.get(prefix);
    if (cached && Date.now() - cached.loadedAt < Authenticator.CACHE_MS) return cached.row;
    const [row] = await this.#db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix));
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(prefix, { row, loadedAt: Date.now() });
    if (row) this.#touch(row.id);
    return row;
  }

  /** last_used_at is advisory: written at most once a minute per key, never awaited. */
  #touch(keyId: string): void {
    this.#db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(sql`${apiKeys.id} = ${keyId} and (${apiKeys.lastUsedAt} is null or ${apiKeys.lastUsedAt} < now() - interval '1 minute')`)
      .catch(() => undefined);
  }
}

export type Requirement = 'platform' | Scope;

/** Checks what a route needs; a key limited to some streams gets 403 on the others. */
export function authorize(principal: Principal, needs: Requirement, stream?: string): void {
  if (needs === 'platform') {
    if (principal.kind !== 'platform') throw new EventFlowError('forbidden', 'this route needs the platform token');
    return;
  }
  if (principal.kind === 'platform') {
    throw new EventFlowError('forbidden', 'the platform token may only create organizations');
  }
  // Producers append with keys: an event's metadata names the key that wrote it.
  if (principal.kind === 'user' && needs === 'ingest') {
    throw new EventFlowError('forbidden', 'console sessions do not append events; use an API key with the ingest scope');
  }
  if (!principal.scopes.includes('admin') && !principal.scopes.includes(needs)) {
    throw new EventFlowError('forbidden', principal.kind === 'user' ? `a ${principal.role} may not do this` : `this API key lacks the '${needs}' scope`);
  }
  if (stream !== undefined && principal.streams && !principal.streams.includes(stream)) {
    throw new EventFlowError('forbidden', `this API key is not allowed on stream '${stream}'`);
  }
}
