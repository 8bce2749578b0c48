/** The console's only way to the server: the public /v1 API, with the session cookie. */

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

export interface Session {
  user: { id: string; email: string; role: 'admin' | 'viewer'; organization_id: string };
  csrf_token: string;
}

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

// --- what the API answers -------------------------------------------------------------------

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Stream {
  id: string;
  name: string;
  description: string | null;
  last_seq: number;
  created_at: string;
}

export interface StreamActivity {
  stream: string;
  last_seq: number;
  minutes: { minute: string; events: number }[];
}

export interface Offset {
  stream: string;
  committed_seq: number;
  last_seq: number;
  lag: number;
}

export interface Group {
  id: string;
  name: string;
  streams: string[];
  webhook_url: string;
  event_types: string[];
  status: 'active' | 'paused';
  delivery: { mode: 'parallel' | 'ordered'; max_in_flight: number; timeout_ms: number; max_attempts: number };
  offsets: Offset[];
  dead_letters_pending: number;
}

export interface GroupActivity {
  minutes: { minute: string; delivered: number; failed: number }[];
  last_error: { stream: string; seq: number; attempt: number; status_code: number | null; error: string | null; at: string } | null;
}

export interface Attempt {
  event_id: string;
  stream: string;
  seq: number;
  attempt: number;
  status: 'delivered' | 'failed' | 'blocked';
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  duration_ms: number;
  at: string;
}

export interface DeadLetter {
  id: string;
  group_id: string;
  stream: string;
  event_id: string;
  seq: number;
  attempts: number;
  last_error: string | null;
  last_status_code: number | null;
  status: 'pending' | 'retrying' | 'resolved' | 'discarded';
  dead_lettered_at: string;
  retried_at: string | null;
}

export interface StoredEvent {
  id: string;
  stream: string;
  seq: number;
  type: string;
  version: number;
  occurred_at: string;
  source: string | null;
  payload: Record<string, unknown>;
  context: Record<string, string>;
  appended_at: string;
}
