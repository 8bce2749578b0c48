import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { sessions, signInFailures, users } from '../db/schema.ts';
import { EventFlowError } from '../errors.ts';
import { hashForUnknownUser, verifyPassword } from './passwords.ts';

export const SESSION_COOKIE = 'eventflow_session';
export const CSRF_HEADER = 'x-csrf-token';
/** Absolute lifetime: a console left open signs in again after a working day. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/**
 * Failed sign-ins allowed in SIGN_IN_WINDOW_MS: few per email (guessing one password),
 * more per client address (an office behind one NAT signs in from one address).
 */
const FAILURES_ALLOWED = { email: 10, ip: 50 };
const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;

export type Role = 'admin' | 'viewer';

export interface SessionUser {
  userId: string;
  organizationId: string;
  email: string;
  role: Role;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * The CSRF token is derived from the session token, so it needs no storage, changes with
 * every sign-in, and is useless without the HttpOnly cookie that a script cannot read.
 */
export const csrfTokenOf = (sessionToken: string): string => sha256(`csrf:${sessionToken}`).toString('base64url');

export function csrfMatches(sessionToken: string, presented: string | undefined): boolean {
  const expected = Buffer.from(csrfTokenOf(sessionToken));
  const given = Buffer.from(presented ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const invalidCredentials = () => new EventFlowError('unauthorized', 'wrong email or password');

/** Console sign-in, sign-out and the lookup of a session cookie. */
export class Sessions {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Checks the password (an unknown email costs the same hash, and answers the same) and
   * opens a session. Failures count per email and per client address across every API
   * process; past the limit the answer is 429 whatever the password.
   */
  async signIn(email: string, password: string, clientAddress: string): Promise<{ token: string; user: SessionUser }> {
    const subjects = [`email:${email.toLowerCase()}`, `ip:${clientAddress}`];
    await this.#refuseWhenThrottled(subjects);
    const [user] = await this.#db.select().from(users).where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
    const valid = await verifyPassword(password, user?.passwordHash ?? (await hashForUnknownUser()));
    if (!user || !valid) {
      await this.#db.insert(signInFailures).values(subjects.map((subject) => ({ subject })));
      throw invalidCredentials();
    }
    const token = randomBytes(32).toString('base64url');
    await this.#db.insert(sessions).values({ tokenHash: sha256(token), userId: user.id, expiresAt: new Date(Date.now() + SESSION_TTL_MS) });
    return { token, user: { userId: user.id, organizationId: user.organizationId, email: user.email, role: user.role } };
  }

  /** The signed-in user, or undefined for an unknown, expired or signed-out session. */
  async resolve(token: string): Promise<SessionUser | undefined> {
    const [row] = await this.#db
      .select({ userId: users.id, organizationId: users.organizationId, email: users.email, role: users.role })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(eq(sessions.tokenHash, sha256(token)), gt(sessions.expiresAt, sql`now()`)));
    return row;
  }

  async signOut(token: string): Promise<void> {
    await this.#db.delete(sessions).where(eq(sessions.tokenHash, sha256(token)));
  }

  async #refuseWhenThrottled(subjects: string[]): Promise<void> {
    const windowStart = sql`now() - make_interval(secs => ${SIGN_IN_WINDOW_MS / 1000})`;
    await this.#db.delete(signInFailures).where(sql`${signInFailures.at} < ${windowStart}`);
    const { rows } = await this.#db.execute<{ subject: string; failures: number; oldest: string }>(sql`
      select subject, count(*)::int as failures, min(at) as oldest from ${signInFailures}
      where subject = any(${sql.param(subjects)}::text[]) and at >= ${windowStart}
      group by subject`);
    const over = rows.find((row) => row.failures >= FAILURES_ALLOWED[row.subject.startsWith('ip:') ? 'ip' : 'email']);
    if (!over) return;
    const retryAfter = Math.max(1, Math.ceil((new Date(over.oldest).getTime() + SIGN_IN_WINDOW_MS - Date.now()) / 1000));
    throw new EventFlowError('rate_limited', 'too many failed sign-ins; try again later', { headers: { 'retry-after': String(retryAfter) } });
  }
}
