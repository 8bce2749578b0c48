import { createHmac, randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { Pool } from 'undici';
import { samplePayload } from './raw.ts';
import type { Receiver } from './support.ts';

/**
 * The pipeline a user would build instead: pg-boss with one job per delivery, jobs
 * inserted while workers drain them, each job one signed POST (the same keep-alive
 * client as EventFlow), pg-boss's documented low-latency settings: LISTEN/NOTIFY on the
 * queue, 16 local workers.
 */
export async function naivePipeline(databaseUrl: string, receiver: Receiver, deliveries: number): Promise<number> {
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
  for (let sent = 0; sent < deliveries; sent += 100) {
    const jobs = Array.from({ length: Math.min(100, deliveries - sent) }, (_, i) => ({ data: { id: randomUUID(), seq: sent + i + 1 } }));
    await boss.insert('naive-deliveries', jobs);
  }
  await receiver.until(deliveries, 600_000);
  const rate = deliveries / ((performance.now() - started) / 1000);
  await boss.stop({ graceful: false });
  await http.close();
  return rate;
}
