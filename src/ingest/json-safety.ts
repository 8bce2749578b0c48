/**
 * JSON that parses in JavaScript but that Postgres jsonb refuses (NUL characters, lone
 * surrogates) would fail the insert with a 500, and nesting deep enough would overflow
 * the stack of every later JSON.stringify. Both are refused up front with a path.
 */
export const MAX_JSON_DEPTH = 64;

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export interface JsonIssue {
  path: (string | number)[];
  message: string;
}

export function findJsonIssue(value: unknown, path: (string | number)[] = [], depth = 0): JsonIssue | undefined {
  if (typeof value === 'string') return stringIssue(value, path);
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH) return { path, message: `nesting deeper than ${MAX_JSON_DEPTH} levels` };
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : Object.entries(value);
  for (const [key, item] of entries) {
    if (typeof key === 'string') {
      const keyIssue = stringIssue(key, [...path, key]);
      if (keyIssue) return { ...keyIssue, message: `key ${keyIssue.message}` };
    }
    const issue = findJsonIssue(item, [...path, key], depth + 1);
    if (issue) return issue;
  }
  return undefined;
}

function stringIssue(value: string, path: (string | number)[]): JsonIssue | undefined {
  if (value.includes('\u0000')) return { path, message: 'contains a NUL character (\\u0000), which Postgres cannot store' };
  if (LONE_SURROGATE.test(value)) return { path, message: 'contains an unpaired UTF-16 surrogate' };
  return undefined;
}
