import { Agent, request, type Dispatcher } from 'undici';
import { BlockedAddressError, guardedLookup, isPublicAddress, literalAddress } from './ssrf.ts';

/** What one POST came to; the outcome decides retry or dead letter, not an exception. */
export type DeliveryOutcome =
  | { status: 'delivered'; statusCode: number; durationMs: number; responseBody: string }
  | { status: 'failed'; statusCode: number | null; error: string; durationMs: number; responseBody: string | null }
  | { status: 'blocked'; statusCode: null; error: string; durationMs: number; responseBody: null };

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** Response bodies are only for operators to read: 1 KiB is kept, the rest is not read. */
export const RESPONSE_BODY_CAP = 1024;

/**
 * Sends webhooks over keep-alive connections (undici: ~10x the built-in fetch here).
 * Redirects are not followed (undici's request never follows them): a 3xx is a failure.
 */
export class WebhookSender {
  readonly #dispatcher: Dispatcher;
  readonly #allowPrivate: boolean;

  constructor({ allowPrivate }: { allowPrivate: boolean }) {
    this.#allowPrivate = allowPrivate;
    this.#dispatcher = new Agent({
      connections: 256,
      keepAliveTimeout: 30_000,
      connect: allowPrivate ? {} : { lookup: guardedLookup },
    });
  }

  async send(webhook: WebhookRequest): Promise<DeliveryOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const url = new URL(webhook.url);
    const literal = literalAddress(url);
    if (!this.#allowPrivate && literal && !isPublicAddress(literal)) {
      return { status: 'blocked', statusCode: null, error: `${literal} is not a public address`, durationMs: 0, responseBody: null };
    }
    try {
      const response = await request(url, {
        method: 'POST',
        body: webhook.body,
        headers: webhook.headers,
        dispatcher: this.#dispatcher,
        headersTimeout: webhook.timeoutMs,
        bodyTimeout: webhook.timeoutMs,
        signal: AbortSignal.timeout(webhook.timeoutMs),
      });
      const responseBody = await readCapped(response.body);
      const statusCode = response.statusCode;
      if (statusCode >= 200 && statusCode < 300) return { status: 'delivered', statusCode, durationMs: elapsed(), responseBody };
      return { status: 'failed', statusCode, error: `HTTP ${statusCode}`, durationMs: elapsed(), responseBody };
    } catch (error) {
      const blocked = findCause(error, BlockedAddressError);
      if (blocked) return { status: 'blocked', statusCode: null, error: blocked.message, durationMs: elapsed(), responseBody: null };
      return { status: 'failed', statusCode: null, error: describe(error, webhook.timeoutMs), durationMs: elapsed(), responseBody: null };
    }
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** Reads at most RESPONSE_BODY_CAP bytes; a larger or endless body is cut off there. */
async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_BODY_CAP) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_CAP).toString('utf8');
}

function findCause<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let current = error; current instanceof Error; current = current.cause) if (current instanceof type) return current;
  return undefined;
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') {
    return `timed out after ${timeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return [err.code, cause?.code, err.message ?? String(error)].filter(Boolean).join(': ');
}
