import pg from 'pg';
import { APPENDS_CHANNEL, GROUP_CHANNEL } from '../channels.ts';
import type { Logger } from '../logger.ts';

interface Waiter {
  groupId: string;
  streamIds: ReadonlySet<string>;
  wake: (woken: boolean) => void;
}

/**
 * Notifications that delivery runs act on, from one LISTEN connection per process:
 *
 * - operators' changes to a group (pause, delete, offset reset) NOTIFY `eventflow_groups`
 *   in their transaction. A run compares the group's version before each delivery it
 *   starts, so it stops starting deliveries right after such a change commits, without a
 *   query per delivery. It also re-reads the group at every chunk, so a missed
 *   notification (listener reconnecting) only delays the stop to the chunk's end.
 * - after appends commit, the API process NOTIFYs `eventflow_appends` with their streams
 *   (append-notifier.ts), so a run that has caught up waits for new events here instead
 *   of ending and being scheduled again.
 */
export class GroupSignals {
  readonly #versions = new Map<string, number>();
  readonly #waiters = new Set<Waiter>();
  readonly #connectionString: string;
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #closed = false;

  constructor(connectionString: string, logger: Logger) {
    this.#connectionString = connectionString;
    this.#logger = logger;
  }

  version(groupId: string): number {
    return this.#versions.get(groupId) ?? 0;
  }

  /** Resolves true when one of the streams gets events or the group changes; false after `ms`. */
  waitForActivity(groupId: string, streamIds: ReadonlySet<string>, ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        groupId,
        streamIds,
        wake: (woken) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.#waiters.delete(waiter);
          resolve(woken);
        },
      };
      const onAbort = () => waiter.wake(false);
      const timer = setTimeout(() => waiter.wake(false), ms);
      signal.addEventListener('abort', onAbort);
      this.#waiters.add(waiter);
    });
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString, application_name: 'eventflow-signals' });
    client.on('notification', ({ channel, payload }) => {
      if (!payload) return;
      if (channel === GROUP_CHANNEL) this.#versions.set(payload, this.version(payload) + 1);
      for (const waiter of this.#waiters) {
        if (channel === GROUP_CHANNEL ? waiter.groupId === payload : waiter.streamIds.has(payload)) waiter.wake(true);
      }
    });
    client.on('error', (error) => {
      this.#logger.warn({ err: error }, 'signal listener lost its connection; reconnecting');
      this.#reconnect();
    });
    await client.connect();
    await client.query(`listen ${GROUP_CHANNEL}`);
    await client.query(`listen ${APPENDS_CHANNEL}`);
    this.#client = client;
  }

  #reconnect(): void {
    const old = this.#client;
    this.#client = undefined;
    void old?.end().catch(() => undefined);
    if (this.#closed) return;
    setTimeout(() => {
      if (!this.#closed) this.start().catch(() => this.#reconnect());
    }, 1000).unref();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters) waiter.wake(false);
    await this.#client?.end().catch(() => undefined);
  }
}
