/** The console's only way to the server: the public /v1 API, with the session cookie. */

import type { z } from 'zod';
import type {
  deadLetterSchema,
  deliveryAttemptSchema,
  eventSchema,
  groupActivitySchema,
  groupSchema,
  sessionSchema,
  streamActivitySchema,
  streamSchema,
} from '../../src/ingest/schemas.ts';

export interface Problem {
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export type Session = z.output<typeof sessionSchema>;

let csrfToken: string | undefined;
let onSignedOut: () => void = () => undefined;

/** Called when any request finds the session gone (expired, signed out elsewhere, user deleted). */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'GET' || !csrfToken ? {} : { 'x-csrf-token': csrfToken }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    if (response.status === 401 && path !== '/v1/session') onSignedOut();
    throw new ApiError(response.status, parsed as Problem | undefined);
  }
  return parsed as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);

export async function signIn(email: string, password: string): Promise<Session> {
  const session = await post<Session>('/v1/session', { email, password });
  csrfToken = session.csrf_token;
  return session;
}

export async function currentSession(): Promise<Session | undefined> {
  try {
    const session = await get<Session>('/v1/session');
    csrfToken = session.csrf_token;
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export async function signOut(): Promise<void> {
  await request('DELETE', '/v1/session');
  csrfToken = undefined;
}

/** A query string from the defined values only. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

// --- what the API answers: the server's own response schemas, as types only (erased from
// the bundle), so the console cannot drift from the API it reads.

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type Stream = z.output<typeof streamSchema>;
export type StreamActivity = z.output<typeof streamActivitySchema>;
export type Group = z.output<typeof groupSchema>;
export type GroupActivity = z.output<typeof groupActivitySchema>;
export type Attempt = z.output<typeof deliveryAttemptSchema>;
export type DeadLetter = z.output<typeof deadLetterSchema>;
export type StoredEvent = z.output<typeof eventSchema>;
