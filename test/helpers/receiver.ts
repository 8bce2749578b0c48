import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  /** The status this receiver answered. */
  status: number;
}

export interface Reply {
  status?: number;
  /** Answer after this many ms (for slow receivers); a hang never answers. */
  delayMs?: number;
  hang?: boolean;
  headers?: Record<string, string>;
  body?: string;
}

/** A real webhook receiver on 127.0.0.1 that records every request and answers as told. */
export class Receiver {
  readonly received: Received[] = [];
  connections = 0;
  reply: (request: { json: any; headers: IncomingHttpHeaders }) => Reply = () => ({ status: 200 });
  #server: Server;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const json = body ? JSON.parse(body) : undefined;
        const answer = this.reply({ json, headers: req.headers });
        if (answer.hang) return;
        const status = answer.status ?? 200;
        const finish = () => {
          this.received.push({ headers: req.headers, body, json, status });
          res.writeHead(status, answer.headers ?? {}).end(answer.body ?? '');
          this.#notify();
        };
        if (answer.delayMs) setTimeout(finish, answer.delayMs);
        else finish();
      });
    });
    this.#server.on('connection', () => this.connections++);
  }

  /** Listens on `port` (0: any free one). */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  /** Resolves once `check` holds after some request (the test's timeout bounds the wait). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }

  delivered(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  #notify(): void {
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
