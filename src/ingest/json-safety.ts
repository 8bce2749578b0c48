/**
 * JSON that parses in JavaScript but that Postgres jsonb refuses (NUL characters, lone
 * surrogates) would fail the insert with a 500, and nesting deep enough would overflow
 * the stack of every later JSON.stringify. Both are refused up front with a path.
 */
export const MAX_JSON_DEPTH = 64;

export interface JsonIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Walks a parsed value once. The path is built only on the way out of a finding: it runs
 * on every event of every batch, and allocating a path per node made it 7% of batch
 * ingest's CPU (node --cpu-prof).
 */
export function findJsonIssue(value: unknown, depth = 0): JsonIssue | undefined {
  if (typeof value === 'string') return stringIssue(value);
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH) return { path: [], message: `nesting deeper than ${MAX_JSON_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const issue = findJsonIssue(value[index], depth + 1);
      if (issue) return within(index, issue);
    }
    return undefined;
  }
  for (const key in value) {
    const keyIssue = stringIssue(key);
    if (keyIssue) return within(key, { ...keyIssue, message: `key ${keyIssue.message}` });
    const issue = findJsonIssue((value as Record<string, unknown>)[key], depth + 1);
    if (issue) return within(key, issue);
  }
  return undefined;
}

function within(key: string | number, issue: JsonIssue): JsonIssue {
  issue.path.unshift(key);
  return issue;
}

function stringIssue(value: string): JsonIssue | undefined {
  if (value.includes('\u0000')) return { path: [], message: 'contains a NUL character (\\u0000), which Postgres cannot store' };
  if (!value.isWellFormed()) return { path: [], message: 'contains an unpaired UTF-16 surrogate' };
  return undefined;
}
