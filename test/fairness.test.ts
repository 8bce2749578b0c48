import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { Receiver } from './helpers/receiver.ts';

let ctx: TestApp;
let flooder: Tenant;
let neighbour: Tenant;
let receiver: Receiver;
const arrivals = new Map<string, number>();

beforeAll(async () => {
  ctx = await startTestApp({ workers: true, env: { INGEST_RATE_LIMIT: '300' } });
  const platform = new ApiClient(ctx.url, PLATFORM_TOKEN);
  [flooder, neighbour] = [await createTenant(platform), await createTenant(platform)];
  receiver = await new Receiver().start();
  receiver.reply = ({ json }) => {
    arrivals.set(json.id as string, performance.now());
    return { status: 200 };
  };
  for (const tenant of [flooder, neighbour]) {
    await tenant.admin.post('/v1/streams', { name: 'events' });
    await tenant.admin.post('/v1/consumer-groups', { name: 'g', streams: ['events'], webhook_url: receiver.url });
  }
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.stop();
});

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

it("keeps one tenant's flood from starving another tenant's ingest and deliveries", async () => {
  const answered = new Map<string, { tenant: 'flooder' | 'neighbour'; at: number }>();
  const refused = { flooder: 0, neighbour: 0 };
  let flooding = true;
  const flood = (async () => {
    const events = Array.from({ length: 100 }, () => ({ type: 'flood', payload: { big: 'x'.repeat(200) } }));
    while (flooding) {
      const response = await flooder.admin.post('/v1/streams/events/events/batch', { events });
      if (response.status === 429) refused.flooder++;
      else for (const e of response.body.events as { id: string }[]) answered.set(e.id, { tenant: 'flooder', at: performance.now() });
    }
  })();
  for (let n = 0; n < 100; n++) {
    const response = await neighbour.admin.post('/v1/streams/events/events', { type: 'calm', payload: { n } });
    if (response.status === 429) refused.neighbour++;
    else answered.set(response.body.id as string, { tenant: 'neighbour', at: performance.now() });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  flooding = false;
  await flood;
  await receiver.until(() => [...answered.keys()].every((id) => arrivals.has(id)));

  const latency = (tenant: 'flooder' | 'neighbour') =>
    [...answered].filter(([, a]) => a.tenant === tenant).map(([id, a]) => arrivals.get(id)! - a.at);
  const report = (tenant: 'flooder' | 'neighbour') => {
    const values = latency(tenant);
    return `${values.length} delivered, p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, ${refused[tenant]} requests refused (429)`;
  };
  console.log(`rate limit 300 events/s per organization\n  flooder:   ${report('flooder')}\n  neighbour: ${report('neighbour')}`);
  expect(refused.flooder).toBeGreaterThan(0);
  expect(refused.neighbour).toBe(0);
  expect(latency('neighbour')).toHaveLength(100);
});
