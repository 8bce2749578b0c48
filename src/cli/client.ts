/** The CLI's view of the HTTP API: JSON in and out, problems turned into ApiError. */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(status: number, title: string, detail: string) {
    super(detail);
    this.status = status;
    this.title = title;
  }
}

export class ApiClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'Cannot reach EventFlow', `${this.#baseUrl}: ${(error as Error).cause ? String((error as Error & { cause: Error }).cause.message) : (error as Error).message}`);
    }
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const problem = (parsed ?? {}) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
      const fields = problem.errors?.map((e) => `\n  ${e.path}: ${e.message}`).join('') ?? '';
      throw new ApiError(response.status, problem.title ?? `HTTP ${response.status}`, `${problem.detail ?? text}${fields}`);
    }
    return parsed as T;
  }

  get = <T = unknown>(path: string) => this.request<T>('GET', path);
  post = <T = unknown>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  patch = <T = unknown>(path: string, body?: unknown) => this.request<T>('PATCH', path, body);
  delete = (path: string) => this.request('DELETE', path);

  /** Every page of a list. */
  async all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const page: { data: T[]; next_cursor: string | null } = await this.get(
        `${path}${separator}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      items.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }
}

/** A query string from the options that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
