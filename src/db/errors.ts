/** The errors of node-postgres (SQLSTATE or errno in `code`), also when drizzle wraps them in `cause`. */
function* chain(error: unknown): Generator<{ code?: unknown; message?: unknown }> {
  for (let current = error; current && typeof current === 'object'; current = (current as { cause?: unknown }).cause) {
    yield current;
  }
}

function sqlState(error: unknown): string | undefined {
  for (const link of chain(error)) if (typeof link.code === 'string' && /^[0-9A-Z]{5}$/.test(link.code)) return link.code;
  return undefined;
}

export const isUniqueViolation = (error: unknown): boolean => sqlState(error) === '23505';

/** Connection exceptions (08), resources (53), shutdown (57P): the database, not the request. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
/** What node-postgres throws, without a code, when a connection dies under a query. */
const LOST_CONNECTION = /Connection terminated|not queryable|timeout exceeded when trying to connect/i;

/** Whether an error means that the database cannot be reached right now (retry later). */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const link of chain(error)) {
    if (typeof link.code === 'string' && (UNAVAILABLE_SQLSTATE.test(link.code) || UNAVAILABLE_ERRNO.has(link.code))) return true;
    if (typeof link.message === 'string' && LOST_CONNECTION.test(link.message)) return true;
  }
  return false;
}
