import pg from 'pg';
import type { Logger } from '../logger.ts';

export const GROUP_CHANNEL = 'eventflow_groups';

/**
 * Operators' changes to a group (pause, delete, offset reset) NOTIFY this channel in
 * their transaction. A run compares the group's version before each delivery it starts,
 * so it stops starting deliveries right after such a change commits, without a query
 * per delivery. The run also re-reads the group at every chunk, so a missed
 * notification (listener reconnecting) only delays the stop to the chunk's end.
 */
export class GroupSignals {
  readonly #versions = new Map<string, number>();
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

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString, application_name: 'eventflow-signals' });
    client.on('notification', (message) => {
      if (message.payload) this.#versions.set(message.payload, this.version(message.payload) + 1);
    });
    client.on('error', (error) => {
      this.#logger.warn({ err: error }, 'group signal listener lost its connection; reconnecting');
      this.#reconnect();
    });
    await client.connect();
    await client.query(`listen ${GROUP_CHANNEL}`);
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
    await this.#client?.end().catch(() => undefined);
  }
}
