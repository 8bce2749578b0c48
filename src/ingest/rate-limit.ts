import { EventFlowError } from '../errors.ts';

/**
 * INGEST_RATE_LIMIT: events per second per organization, as a token bucket that holds one
 * second's worth. A request may take the bucket below zero (a batch larger than a second's
 * worth still passes when the bucket is full); the next ones wait for it to refill. Per
 * process: N API processes admit up to N times the limit.
 */
export class IngestRateLimiter {
  readonly #perSecond: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  take(organizationId: string, events: number): void {
    const now = Date.now();
    const bucket = this.#buckets.get(organizationId) ?? { tokens: this.#perSecond, at: now };
    bucket.tokens = Math.min(this.#perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    bucket.at = now;
    this.#buckets.set(organizationId, bucket);
    const needed = Math.min(events, this.#perSecond);
    if (bucket.tokens < needed) {
      const seconds = Math.max(1, Math.ceil((needed - bucket.tokens) / this.#perSecond));
      throw new EventFlowError('rate_limited', `this organization may append ${this.#perSecond} events per second`, {
        headers: { 'retry-after': String(seconds) },
      });
    }
    bucket.tokens -= events;
  }
}
