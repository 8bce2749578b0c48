import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { scrape as scrapeMetrics } from './helpers/metrics.ts';
import { Receiver } from './helpers/receiver.ts';

let ctx: TestApp;
let tenant: Tenant;
let receiver: Receiver;

beforeAll(async () => {
  ctx = await startTestApp({ workers: true });
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  receiver = await new Receiver().start();
  await tenant.admin.post('/v1/streams', { name: 'orders' });
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.stop();
});

const scrape = () => scrapeMetrics(ctx.url);

const sum = (family: { metrics: { value: string; labels?: Record<string, string> }[] } | undefined, labels: Record<string, string> = {}) =>
  (family?.metrics ?? [])
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((total, m) => total + Number(m.value), 0);

describe('/metrics', () => {
  it('is Prometheus text whose counters move with ingest and delivery', async () => {
    const before = await scrape();
    expect(before.get('eventflow_process_resident_memory_bytes')).toBeDefined();
    const ingestedBefore = sum(before.get('eventflow_events_ingested_total'), { org: tenant.organizationId, stream: 'orders' });
    const deliveredBefore = sum(before.get('eventflow_deliveries_total'), { outcome: 'delivered' });

    const group = await tenant.admin.post('/v1/consumer-groups', { name: 'm', streams: ['orders'], webhook_url: receiver.url });
    await tenant.admin.post('/v1/streams/orders/events/batch', { events: [1, 2, 3].map((n) => ({ type: 't', payload: { n } })) });
    await receiver.until(() => receiver.delivered().length === 3);

    const after = await eventually(scrape, (m) => sum(m.get('eventflow_deliveries_total'), { outcome: 'delivered' }) >= deliveredBefore + 3);
    expect(sum(after.get('eventflow_events_ingested_total'), { org: tenant.organizationId, stream: 'orders' })).toBe(ingestedBefore + 3);
    const latency = after.get('eventflow_http_request_duration_seconds')!;
    expect(latency.type).toBe('HISTOGRAM');
    // This parser keeps a histogram's buckets but drops its labels: they are read from the text.
    const raw = await (await fetch(`${ctx.url}/metrics`)).text();
    expect(raw).toMatch(/eventflow_http_request_duration_seconds_count\{route="\/v1\/streams\/:stream\/events\/batch",method="POST",status="201"\} [1-9]/);
    expect(after.get('eventflow_delivery_attempt_duration_seconds')!.type).toBe('HISTOGRAM');

    await ctx.metrics.refresh(ctx.db, ctx.boss);
    const refreshed = await scrape();
    expect(sum(refreshed.get('eventflow_consumer_lag'), { group: group.body.id, stream: 'orders' })).toBeGreaterThanOrEqual(0);
    expect(refreshed.get('eventflow_consumer_lag')!.metrics.some((m) => m.labels?.group === group.body.id)).toBe(true);
    expect(refreshed.get('eventflow_queue_jobs')!.metrics.map((m) => m.labels?.queue)).toEqual(expect.arrayContaining(['dispatch', 'deliver']));
    // Bounded labels: no event ids or URLs anywhere.
    expect(raw).not.toContain(receiver.url);
  });
});

describe('/openapi.json', () => {
  it('is valid OpenAPI 3.1 and documents every route and its problems', async () => {
    const document: any = await (await fetch(`${ctx.url}/openapi.json`)).json();
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document));
    expect(result.valid ? [] : result.errors).toEqual([]);

    const routes = registeredRoutes(ctx.app.printRoutes({ commonPrefix: false })).filter(
      // The console's static files are pages, not API.
      ([path]) => !path.startsWith('/docs') && !path.startsWith('/console') && path !== '/openapi.json',
    );
    expect(routes.length).toBeGreaterThan(25);
    for (const [path, method] of routes) {
      const documented = document.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      expect(documented, `${method} ${path}`).toBeDefined();
      if (path.startsWith('/v1/')) {
        expect(Object.keys(documented.responses)).toEqual(expect.arrayContaining(['401', '403', '404', '500']));
        expect(documented.responses['404'].content['application/json'].schema.$ref).toBe('#/components/schemas/Problem');
      }
    }
    const docs = await fetch(`${ctx.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });
});

/** [path, method] pairs from Fastify's route tree (HEAD twins left out). */
function registeredRoutes(tree: string): [string, string][] {
  const routes: [string, string][] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([^)]+)\))?/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const segment = match[2]!;
    const parent = stack[depth - 1] ?? '';
    stack[depth] = parent.endsWith('/') || segment.startsWith('/') ? `${parent}${segment}` : `${parent}/${segment}`;
    for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.push([stack[depth], method]);
  }
  return routes;
}

describe('trace context', () => {
  it('puts trace_id and correlation_id on the ingest and delivery log lines, and traceparent on the webhook', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await tenant.admin.post('/v1/streams', { name: 'traced' });
    await tenant.admin.post('/v1/consumer-groups', { name: 'traced', streams: ['traced'], webhook_url: receiver.url });
    const before = receiver.delivered().length;
    const response = await tenant.admin.request('POST', '/v1/streams/traced/events', { type: 't', payload: {}, context: { correlation_id: 'order-77' } }, {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    expect(response.status).toBe(201);
    await receiver.until(() => receiver.delivered().length > before);
    const webhook = receiver.delivered().at(-1)!;
    expect(webhook.json.context).toEqual({ trace_id: traceId, correlation_id: 'order-77' });
    expect(webhook.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const lines = ctx.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line));
    const ingest = lines.find((l) => l.msg === 'request' && l.route === '/v1/streams/:stream/events' && l.trace_id === traceId);
    expect(ingest).toMatchObject({ correlation_id: 'order-77', status: 201 });
    const attempt = await eventually(
      async () => ctx.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line)).find((l) => l.msg === 'delivery attempt' && l.trace_id === traceId),
      (found) => found !== undefined,
    );
    expect(attempt).toMatchObject({ correlation_id: 'order-77', outcome: 'delivered', stream: 'traced', attempt: 1 });
  });
});
