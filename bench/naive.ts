import { createHmac, randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { Pool } from 'undici';
import { samplePayload } from './raw.ts';
import type { Receiver } from './support.ts';

/**
 * The pipeline a user would build instead: pg-boss with one job per delivery, jobs
 * inserted while workers drain them, each job one signed POST (the same keep-alive
 * client as EventFlow), pg-boss's documented low-latency settings: LISTEN/NOTIFY on the
 * queue, 16 local workers. Measured while jobs keep arriving (a producer inserts them in
 * batches of 100 for `seconds`): once arrivals stop, its workers only poll (every 30 s
 * with NOTIFY on), so a drain after that would measure the polling interval instead.
 */
export async function naivePipeline(databaseUrl: string, receiver: Receiver, seconds: number): Promise<number> {
  const boss = new PgBoss({ connectionString: databaseUrl, max: 20, useListenNotify: true });
  await boss.start();
  await boss.createQueue('naive-deliveries', { notify: true });
  const url = new URL(receiver.url);
  const http = new Pool(url.origin, { connections: 16 });
  const key = Buffer.alloc(32, 1);
  await receiver.reset();
  const started = performance.now();
  await boss.work<{ id: string; seq: number }>('naive-deliveries', { localConcurrency: 16 }, async ([job]) => {
    const body = JSON.stringify({ id: job!.data.id, seq: job!.data.seq, payload: samplePayload });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', key).update(`${job!.data.id}.${timestamp}.${body}`).digest('base64');
    const response = await http.request({
      method: 'POST',
      path: url.pathname,
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': job!.data.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` },
    });
    await response.body.dump();
    if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
  });
  const ends = started + seconds * 1000;
  for (let sent = 0; performance.now() < ends; sent += 100) {
    const jobs = Array.from({ length: 100 }, (_, i) => ({ data: { id: randomUUID(), seq: sent + i + 1 } }));
    await boss.insert('naive-deliveries', jobs);
    // Arrivals at about 5,000/s: more than it drains, so it always has work.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const rate = (await receiver.count()) / ((performance.now() - started) / 1000);
  await boss.stop({ graceful: false });
  await http.close();
  return rate;
}
