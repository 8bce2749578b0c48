export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small HTTP client for the API under test: JSON in, parsed JSON out. */
export class ApiClient {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(baseUrl: string, token?: string) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  as(token: string | undefined): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  patch = <T = any>(path: string, body?: unknown) => this.request<T>('PATCH', path, body);
  delete = <T = any>(path: string) => this.request<T>('DELETE', path);

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
}

export interface Tenant {
  organizationId: string;
  adminKey: string;
  admin: ApiClient;
}

let counter = 0;

/** Creates an organization with the platform token and returns a client with its admin key. */
export async function createTenant(platform: ApiClient, slug = `org-${process.pid}-${++counter}`): Promise<Tenant> {
  const response = await platform.post('/v1/organizations', { name: slug, slug });
  if (response.status !== 201) throw new Error(`organization create failed: ${response.status} ${JSON.stringify(response.body)}`);
  const adminKey = response.body.api_key.key as string;
  return { organizationId: response.body.id, adminKey, admin: platform.as(adminKey) };
}
