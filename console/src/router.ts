import type { Session } from './api.ts';

export interface PageContext {
  session: Session;
  /** Admins may act; viewers only look, and see no action buttons. */
  canAct: boolean;
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface Page {
  title: string;
  element: HTMLElement;
  /** Re-reads what the page shows; called at once and then every POLL_MS while it is shown. */
  refresh: () => Promise<void>;
}

interface Route {
  pattern: RegExp;
  render: (context: PageContext) => Page;
}

export const POLL_MS = 2_000;

const routes: Route[] = [];

/** `path` like `/groups/:id`; the hash `#/groups/0193...` matches it. */
export function route(path: string, render: (context: PageContext) => Page): void {
  const pattern = new RegExp(`^${path.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);
  routes.push({ pattern, render });
}

export function match(hash: string): { route: Route; params: Record<string, string>; query: URLSearchParams } | undefined {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  for (const candidate of routes) {
    const found = candidate.pattern.exec(path || '/');
    if (found) {
      const params = Object.fromEntries(Object.entries(found.groups ?? {}).map(([key, value]) => [key, decodeURIComponent(value)]));
      return { route: candidate, params, query: new URLSearchParams(search) };
    }
  }
  return undefined;
}

export const link = (path: string, values: Record<string, string | undefined> = {}): string => {
  const params = new URLSearchParams(Object.entries(values).filter((entry): entry is [string, string] => Boolean(entry[1])));
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ''}`;
};
