import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, PLATFORM_TOKEN, type TestApp } from './helpers/app.ts';
import { ApiClient, createTenant, type Tenant } from './helpers/client.ts';
import { eventually } from './helpers/eventually.ts';
import { RECEIVER_OUTAGE_MS } from './helpers/fault-durations.ts';
import { Receiver } from './helpers/receiver.ts';

let ctx: TestApp;
let tenant: Tenant;
let api: ApiClient;
const receivers: Receiver[] = [];

async function receiver(): Promise<Receiver> {
  const created = await new Receiver().start();
  receivers.push(created);
  return created;
}

beforeAll(async () => {
  ctx = await startTestApp({ workers: true });
  tenant = await createTenant(new ApiClient(ctx.url, PLATFORM_TOKEN));
  api = tenant.admin;
});
afterAll(async () => {
  await ctx?.close();
  for (const r of receivers) await r.stop();
});

let streamCounter = 0;
async function stream(): Promise<string> {
  const name = `s${++streamCounter}`;
  expect((await api.post('/v1/streams', { name })).status).toBe(201);
  return name;
}

async function group(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await api.post('/v1/consumer-groups', { name: `g-${Math.random().toString(36).slice(2)}`, ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

async function send(streamName: string, events: Record<string, unknown>[]): Promise<{ id: string; seq: number }[]> {
  const response = await api.post(`/v1/streams/${streamName}/events/batch`, { events });
  expect(response.status).toBe(201);
  return response.body.events;
}

const offsetsOf = async (groupId: string) => (await api.get(`/v1/consumer-groups/${groupId}`)).body.offsets as { stream: string; committed_seq: number; last_seq: number; lag: number }[];

describe('fan-out', () => {
  it('delivers every event to every matching group, signed, and moves offsets to last_seq', async () => {
    const orders = await stream();
    const [all, paidOnly] = [await receiver(), await receiver()];
    const everything = await group({ streams: [orders], webhook_url: all.url, start_from: 'earliest' });
    const paid = await group({ streams: [orders], webhook_url: paidOnly.url, event_types: ['order_paid'], start_from: 'earliest' });
    const sent = await send(orders, [
      { type: 'order_created', payload: { n: 1 }, context: { trace_id: 't1' } },
      { type: 'order_paid', payload: { n: 2 } },
      { type: 'order_created', payload: { n: 3 } },
      { type: 'order_paid', payload: { n: 4 } },
    ]);
    await all.until(() => all.delivered().length >= 4);
    await paidOnly.until(() => paidOnly.delivered().length >= 2);
    expect(all.delivered().map((r) => r.json.seq).sort()).toEqual([1, 2, 3, 4]);
    expect(paidOnly.delivered().map((r) => r.json.payload.n).sort()).toEqual([2, 4]);

    const first = all.delivered().find((r) => r.json.seq === 1)!;
    expect(first.json).toEqual({
      id: sent[0]!.id,
      stream: orders,
      seq: 1,
      type: 'order_created',
      version: 1,
      occurred_at: expect.any(String),
      source: null,
      payload: { n: 1 },
      context: { trace_id: 't1' },
    });
    expect(first.headers['webhook-id']).toBe(sent[0]!.id);
    expect(first.headers['eventflow-stream']).toBe(orders);
    expect(first.headers['eventflow-seq']).toBe('1');
    expect(first.headers['eventflow-attempt']).toBe('1');
    for (const delivery of all.delivered()) {
      expect(() => new Webhook(everything.secret).verify(delivery.body, delivery.headers as Record<string, string>)).not.toThrow();
    }
    expect(() => new Webhook(paid.secret).verify(first.body, first.headers as Record<string, string>)).toThrow();
    const tampered = first.body.replace('"n":1', '"n":9');
    expect(() => new Webhook(everything.secret).verify(tampered, first.headers as Record<string, string>)).toThrow();

    await eventually(() => offsetsOf(paid.id), (offsets) => offsets[0]!.committed_seq === 4);
    expect(await offsetsOf(paid.id)).toEqual([{ stream: orders, committed_seq: 4, last_seq: 4, lag: 0 }]);
    await eventually(() => offsetsOf(everything.id), (offsets) => offsets[0]!.committed_seq === 4);
    const deliveries = await api.get(`/v1/consumer-groups/${everything.id}/deliveries`);
    expect(deliveries.body.data).toHaveLength(4);
    expect(deliveries.body.data[0]).toMatchObject({ stream: orders, attempt: 1, status: 'delivered', status_code: 200, error: null });
  });

  it('starts a `latest` group after the events that exist when it is created', async () => {
    const s = await stream();
    await send(s, [{ type: 'old', payload: {} }]);
    const r = await receiver();
    const g = await group({ streams: [s], webhook_url: r.url });
    expect(await offsetsOf(g.id)).toEqual([{ stream: s, committed_seq: 1, last_seq: 1, lag: 0 }]);
    await send(s, [{ type: 'new', payload: {} }]);
    await r.until(() => r.delivered().length >= 1);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 2);
    expect(r.delivered().map((d) => d.json.type)).toEqual(['new']);
  });
});

describe('ordered mode', () => {
  it('sends each stream in seq order under random delays and failed first attempts', async () => {
    const [a, b] = [await stream(), await stream()];
    const r = await receiver();
    const seen = new Set<string>();
    r.reply = ({ json }) => {
      const key = `${json.stream}:${json.seq}`;
      const firstTime = !seen.has(key);
      seen.add(key);
      return { status: firstTime && json.seq % 3 === 0 ? 503 : 200, delayMs: Math.floor(Math.random() * 5) };
    };
    const g = await group({
      streams: [a, b],
      webhook_url: r.url,
      start_from: 'earliest',
      delivery: { mode: 'ordered', initial_delay_ms: 0, max_delay_ms: 0, max_attempts: 5 },
    });
    const count = 30;
    const events = Array.from({ length: count }, (_, i) => ({ type: 'tick', payload: { i } }));
    await Promise.all([send(a, events.slice(0, 10)), send(b, events.slice(0, 10))]);
    await Promise.all([send(a, events.slice(10)), send(b, events.slice(10))]);
    await r.until(() => r.delivered().length >= 2 * count);
    for (const name of [a, b]) {
      const firstSuccesses: number[] = [];
      for (const d of r.delivered().filter((x) => x.json.stream === name)) if (!firstSuccesses.includes(d.json.seq)) firstSuccesses.push(d.json.seq);
      expect(firstSuccesses).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      // Every request for this stream, failed or not, went out in seq order too.
      const sentOrder = r.received.filter((x) => x.json.stream === name).map((x) => x.json.seq);
      expect(sentOrder).toEqual([...sentOrder].sort((x, y) => x - y));
    }
    await eventually(() => offsetsOf(g.id), (o) => o.every((x) => x.committed_seq === count));
  });
});

describe('retries and dead letters', () => {
  it('dead-letters a poison event after max_attempts, delivers the rest, and retries it on demand', async () => {
    const s = await stream();
    const r = await receiver();
    let poisoned = true;
    r.reply = ({ json }) => ({ status: poisoned && json.payload.poison ? 422 : 200, body: 'nope' });
    const g = await group({
      streams: [s],
      webhook_url: r.url,
      start_from: 'earliest',
      delivery: { max_attempts: 2, initial_delay_ms: 0, max_delay_ms: 0 },
    });
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: { poison: true } }, { type: 'a', payload: {} }]);
    const dead = await eventually(
      async () => (await api.get(`/v1/dead-letters?group_id=${g.id}`)).body.data,
      (rows: any[]) => rows.length === 1,
    );
    expect(dead[0]).toMatchObject({ group_id: g.id, stream: s, seq: 2, attempts: 2, last_status_code: 422, last_error: 'HTTP 422', status: 'pending' });
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 3);
    expect(r.delivered().map((d) => d.json.seq).sort()).toEqual([1, 3]);
    expect((await api.get(`/v1/consumer-groups/${g.id}`)).body.dead_letters_pending).toBe(1);
    const failures = await api.get(`/v1/consumer-groups/${g.id}/deliveries?status=failed`);
    expect(failures.body.data.map((d: { attempt: number }) => d.attempt).sort()).toEqual([1, 2]);
    expect(failures.body.data[0]).toMatchObject({ status_code: 422, response_body: 'nope', seq: 2 });

    poisoned = false;
    const retried = await api.post(`/v1/dead-letters/${dead[0].id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body.status).toBe('retrying');
    const resolved = await eventually(async () => (await api.get(`/v1/dead-letters/${dead[0].id}`)).body, (d) => d.status === 'resolved');
    expect(resolved.retried_at).toEqual(expect.any(String));
    const redelivered = r.delivered().find((d) => d.json.seq === 2)!;
    expect(redelivered.headers['eventflow-attempt']).toBe('3');
    expect((await api.post(`/v1/dead-letters/${dead[0].id}/retry`)).status).toBe(409);
    expect((await offsetsOf(g.id))[0]!.committed_seq).toBe(3);
  });

  it('goes back to pending when a retried dead letter fails again, and supports bulk retry and discard', async () => {
    const s = await stream();
    const r = await receiver();
    let failing = true;
    r.reply = () => ({ status: failing ? 500 : 200 });
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { max_attempts: 1, initial_delay_ms: 0, max_delay_ms: 0 } });
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: {} }, { type: 'a', payload: {} }]);
    const list = () => api.get(`/v1/dead-letters?group_id=${g.id}&status=pending`).then((x) => x.body.data as { id: string; seq: number; attempts: number }[]);
    const dead = await eventually(list, (rows) => rows.length === 3);
    await api.post(`/v1/dead-letters/${dead[0]!.id}/retry`);
    const again = await eventually(async () => (await api.get(`/v1/dead-letters/${dead[0]!.id}`)).body, (d) => d.status === 'pending' && d.attempts === 2);
    expect(again.attempts).toBe(2);

    const discarded = await api.post(`/v1/dead-letters/${dead[1]!.id}/discard`);
    expect(discarded.status).toBe(200);
    expect(discarded.body.status).toBe('discarded');

    failing = false;
    const bulk = await api.post('/v1/dead-letters/retry', { group_id: g.id });
    expect(bulk.status).toBe(202);
    expect(bulk.body.queued).toBe(2);
    await eventually(async () => (await api.get(`/v1/dead-letters?group_id=${g.id}&status=resolved`)).body.data, (rows: any[]) => rows.length === 2);
    expect((await api.get(`/v1/dead-letters/${dead[1]!.id}`)).body.status).toBe('discarded');
  });

  it('lets two operators retry one dead letter at once and delivers it once', async () => {
    const s = await stream();
    const r = await receiver();
    let failing = true;
    r.reply = () => ({ status: failing ? 500 : 200 });
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { max_attempts: 1, initial_delay_ms: 0, max_delay_ms: 0 } });
    await send(s, [{ type: 'a', payload: {} }]);
    const [dead] = await eventually(async () => (await api.get(`/v1/dead-letters?group_id=${g.id}`)).body.data, (rows: any[]) => rows.length === 1);
    failing = false;
    const answers = await Promise.all([api.post(`/v1/dead-letters/${dead.id}/retry`), api.post(`/v1/dead-letters/${dead.id}/retry`)]);
    // Both are accepted (a retry is idempotent), but only one moved it to `retrying`.
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    await eventually(async () => (await api.get(`/v1/dead-letters/${dead.id}`)).body, (d) => d.status === 'resolved');
    expect(r.delivered()).toHaveLength(1);
  });

  it('ends an attempt on a hanging receiver at timeout_ms, and never has two attempts open at once', async () => {
    const s = await stream();
    let open = 0;
    let mostOpen = 0;
    const started: number[] = [];
    const hanging = createServer((req) => {
      started.push(Date.now());
      mostOpen = Math.max(mostOpen, ++open);
      // Never answers: only the sender giving up closes the request.
      req.socket.once('close', () => open--);
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as { port: number }).port}/hooks`;
    const g = await group({ streams: [s], webhook_url: url, start_from: 'earliest', delivery: { timeout_ms: 300, max_attempts: 3, initial_delay_ms: 10, max_delay_ms: 20 } });
    await send(s, [{ type: 'a', payload: {} }]);
    const [dead] = await eventually(async () => (await api.get(`/v1/dead-letters?group_id=${g.id}`)).body.data, (rows: any[]) => rows.length === 1);
    expect(dead).toMatchObject({ attempts: 3, last_error: 'timed out after 300 ms', last_status_code: null });
    const attempts = (await api.get(`/v1/consumer-groups/${g.id}/deliveries`)).body.data as { duration_ms: number }[];
    for (const attempt of attempts) expect(attempt.duration_ms).toBeGreaterThanOrEqual(299);
    expect(started).toHaveLength(3);
    expect(mostOpen).toBe(1);
    // Each attempt began after the previous one had timed out.
    for (let n = 1; n < started.length; n++) expect(started[n]! - started[n - 1]!).toBeGreaterThanOrEqual(299);
    hanging.closeAllConnections();
    hanging.close();
  });

  it('reads only the first KiB of a huge or endless response body', async () => {
    const s = await stream();
    let requests = 0;
    const endless = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'y'.repeat(64 * 1024);
      // Never ends: only the sender closing the connection stops it.
      const pump = () => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      pump();
      res.on('close', () => res.removeAllListeners('drain'));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(endless.address() as { port: number }).port}/hooks`;
    const g = await group({ streams: [s], webhook_url: url, start_from: 'earliest', delivery: { timeout_ms: 5_000 } });
    await send(s, [{ type: 'a', payload: {} }]);
    const [attempt] = await eventually(async () => (await api.get(`/v1/consumer-groups/${g.id}/deliveries`)).body.data, (rows: any[]) => rows.length === 1);
    expect(attempt).toMatchObject({ status: 'delivered', status_code: 200 });
    expect(attempt.response_body).toHaveLength(1024);
    expect(requests).toBe(1);
    endless.closeAllConnections();
    endless.close();
  });

  it('backs off while a receiver is down, then drains with no dead letters', async () => {
    const s = await stream();
    const r = await receiver();
    const url = r.url;
    await r.stop();
    const downSince = Date.now();
    // Minutes under `npm run test:faults`: a schedule whose attempts outlast the outage.
    const delivery = RECEIVER_OUTAGE_MS > 0 ? { max_attempts: 50, initial_delay_ms: 100, max_delay_ms: 10_000 } : { max_attempts: 20, initial_delay_ms: 100, max_delay_ms: 800 };
    const g = await group({ streams: [s], webhook_url: url, start_from: 'earliest', delivery });
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: {} }]);
    const failuresOfFirst = async () =>
      ((await api.get(`/v1/consumer-groups/${g.id}/deliveries?status=failed&limit=1000`)).body.data as { seq: number; attempt: number; at: string; error: string }[])
        .filter((a) => a.seq === 1)
        .sort((a, b) => a.attempt - b.attempt);
    await eventually(failuresOfFirst, (rows) => rows.length >= 5);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downSince + RECEIVER_OUTAGE_MS - Date.now())));
    const first = await failuresOfFirst();
    expect(first[0]!.error).toContain('ECONNREFUSED');
    expect(first.length).toBeLessThan(delivery.max_attempts);
    // Equal jitter: the wait before attempt n+1 is at least half of min(max, initial * 2^(n-1)) ms.
    for (let n = 1; n < first.length; n++) {
      const gap = Date.parse(first[n]!.at) - Date.parse(first[n - 1]!.at);
      expect(gap).toBeGreaterThanOrEqual(Math.min(delivery.max_delay_ms, delivery.initial_delay_ms * 2 ** (n - 1)) / 2 - 5);
    }
    const back = await new Receiver().start(Number(new URL(url).port));
    receivers.push(back);
    await back.until(() => back.delivered().length === 2);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 2);
    expect((await api.get(`/v1/dead-letters?group_id=${g.id}`)).body.data).toEqual([]);
  });

  it('records a 3xx and a timeout as failed attempts', async () => {
    const s = await stream();
    const r = await receiver();
    r.reply = ({ json }) => (json.payload.kind === 'redirect' ? { status: 302, headers: { location: 'http://127.0.0.1:1/' } } : { hang: true });
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { max_attempts: 1, timeout_ms: 300 } });
    await send(s, [{ type: 'a', payload: { kind: 'redirect' } }, { type: 'a', payload: { kind: 'hang' } }]);
    const dead = await eventually(async () => (await api.get(`/v1/dead-letters?group_id=${g.id}`)).body.data, (rows: any[]) => rows.length === 2);
    const bySeq = Object.fromEntries((dead as { seq: number }[]).map((d) => [d.seq, d]));
    expect(bySeq[1]).toMatchObject({ last_status_code: 302, last_error: 'HTTP 302' });
    expect(bySeq[2]).toMatchObject({ last_status_code: null, last_error: 'timed out after 300 ms' });
  });
});

describe('operators', () => {
  it('delivers nothing to a paused group and catches up on resume', async () => {
    const s = await stream();
    const r = await receiver();
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest' });
    const paused = await api.patch(`/v1/consumer-groups/${g.id}`, { status: 'paused' });
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: {} }]);
    // The sweep and the dispatch both ran over the paused group: prove it by another group.
    const witness = await receiver();
    await group({ streams: [s], webhook_url: witness.url, start_from: 'earliest' });
    await witness.until(() => witness.delivered().length === 2);
    expect(r.received).toHaveLength(0);
    expect((await offsetsOf(g.id))[0]).toMatchObject({ committed_seq: 0, lag: 2 });
    expect((await api.patch(`/v1/consumer-groups/${g.id}`, { status: 'active' })).status).toBe(200);
    await r.until(() => r.delivered().length === 2);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 2);
  });

  it('replays from earliest, skips to latest, and answers 400 past last_seq', async () => {
    const s = await stream();
    const r = await receiver();
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest' });
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: {} }, { type: 'a', payload: {} }]);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 3);
    const reset = await api.post(`/v1/consumer-groups/${g.id}/offsets/reset`, { stream: s, to: 'earliest' });
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ stream: s, committed_seq: 0 });
    await r.until(() => r.delivered().length === 6);
    expect(r.delivered().map((d) => d.json.seq)).toEqual([1, 2, 3, 1, 2, 3]);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 3);
    expect((await api.post(`/v1/consumer-groups/${g.id}/offsets/reset`, { stream: s, to: { seq: 2 } })).body.committed_seq).toBe(2);
    await r.until(() => r.delivered().length === 7);
    expect(r.delivered().at(-1)!.json.seq).toBe(3);

    await api.patch(`/v1/consumer-groups/${g.id}`, { status: 'paused' });
    await send(s, [{ type: 'a', payload: {} }]);
    expect((await api.post(`/v1/consumer-groups/${g.id}/offsets/reset`, { stream: s, to: 'latest' })).body.committed_seq).toBe(4);
    await api.patch(`/v1/consumer-groups/${g.id}`, { status: 'active' });
    const over = await api.post(`/v1/consumer-groups/${g.id}/offsets/reset`, { stream: s, to: { seq: 99 } });
    expect(over.status).toBe(400);
    expect(over.body.errors[0].path).toBe('to.seq');
    const byTime = await api.post(`/v1/consumer-groups/${g.id}/offsets/reset`, { stream: s, to: { time: '2000-01-01T00:00:00Z' } });
    expect(byTime.body.committed_seq).toBe(0);
    await r.until(() => r.delivered().length === 11);
  });

  it('signs with both secrets for 24 h after a rotation', async () => {
    const s = await stream();
    const r = await receiver();
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest' });
    const first = await api.post(`/v1/consumer-groups/${g.id}/rotate-secret`);
    expect(first.status).toBe(200);
    const second = await api.post(`/v1/consumer-groups/${g.id}/rotate-secret`);
    expect(second.body.secret).toMatch(/^whsec_/);
    await send(s, [{ type: 'a', payload: {} }]);
    await r.until(() => r.delivered().length === 1);
    const delivery = r.delivered()[0]!;
    expect((delivery.headers['webhook-signature'] as string).split(' ')).toHaveLength(3);
    for (const secret of [g.secret, first.body.secret, second.body.secret]) {
      expect(() => new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>)).not.toThrow();
    }
    await ctx.pool.query(`update consumer_group_secrets set retired_at = now() - interval '25 hours' where secret_encrypted is not null and group_id = $1 and retired_at is not null and created_at = (select min(created_at) from consumer_group_secrets where group_id = $1)`, [g.id]);
    // 25 hours pass: runs re-read their group within a second, or at once when signalled.
    await ctx.pool.query(`select pg_notify('eventflow_groups', $1)`, [g.id]);
    await send(s, [{ type: 'a', payload: {} }]);
    await r.until(() => r.delivered().length === 2);
    const later = r.delivered()[1]!;
    expect((later.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(() => new Webhook(g.secret).verify(later.body, later.headers as Record<string, string>)).toThrow();
  });

  it('stops a deleted group and discards its pending dead letters and retries', async () => {
    const s = await stream();
    const r = await receiver();
    r.reply = ({ json }) => ({ status: json.payload.doomed ? 500 : 503 });
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { max_attempts: 3, initial_delay_ms: 60_000, max_delay_ms: 60_000 } });
    const solo = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { max_attempts: 1 } });
    await send(s, [{ type: 'a', payload: { doomed: true } }]);
    const [dead] = await eventually(async () => (await api.get(`/v1/dead-letters?group_id=${solo.id}`)).body.data, (rows: any[]) => rows.length === 1);
    await eventually(async () => (await ctx.pool.query('select count(*)::int as n from delivery_retries where group_id = $1', [g.id])).rows[0].n, (n) => n === 1);
    expect((await api.delete(`/v1/consumer-groups/${g.id}`)).status).toBe(204);
    expect((await api.delete(`/v1/consumer-groups/${solo.id}`)).status).toBe(204);
    expect((await api.get(`/v1/dead-letters/${dead.id}`)).body.status).toBe('discarded');
    expect((await ctx.pool.query('select count(*)::int as n from delivery_retries where group_id = $1', [g.id])).rows[0].n).toBe(0);
    expect((await api.get(`/v1/dead-letters?group_id=${g.id}`)).status).toBe(404);
  });

  it('validates groups and their patches', async () => {
    const s = await stream();
    const bad = await api.post('/v1/consumer-groups', { name: 'x', streams: [s, 'missing'], webhook_url: 'https://example.com/h' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ path: 'streams.1', message: expect.any(String) }]);
    for (const webhook_url of ['ftp://example.com/h', 'https://user:pw@example.com/h', 'not a url']) {
      const response = await api.post('/v1/consumer-groups', { name: 'x', streams: [s], webhook_url });
      expect(response.status).toBe(400);
      expect(response.body.errors[0].path).toBe('webhook_url');
    }
    const g = await group({ streams: [s], webhook_url: 'https://example.com/h' });
    expect((await api.patch(`/v1/consumer-groups/${g.id}`, { name: 'renamed' })).status).toBe(400);
    const patched = await api.patch(`/v1/consumer-groups/${g.id}`, { delivery: { max_attempts: 3 }, event_types: ['a'] });
    expect(patched.body.delivery).toMatchObject({ max_attempts: 3, mode: 'parallel', max_in_flight: 16 });
    expect(patched.body.event_types).toEqual(['a']);
    expect((await api.post('/v1/consumer-groups', { name: (patched.body as { name: string }).name, streams: [s], webhook_url: 'https://example.com/h' })).status).toBe(409);
    expect((await api.delete(`/v1/consumer-groups/${g.id}`)).status).toBe(204);
    expect((await api.get(`/v1/consumer-groups/${g.id}`)).status).toBe(404);
  });
});

describe('logs', () => {
  it('never carry a webhook secret or an API key', async () => {
    const logs = ctx.logs.join('');
    expect(logs).toContain('delivery attempt');
    expect(logs).not.toContain('whsec_');
    expect(logs).not.toContain(tenant.adminKey);
    const { rows } = await ctx.pool.query('select secret_encrypted from consumer_group_secrets limit 1');
    expect(rows[0].secret_encrypted).toMatch(/^v1\./);
  });
});

describe('activity', () => {
  it('counts appends, deliveries and failures per minute over the last hour, with the last error', async () => {
    const s = await stream();
    const r = await receiver();
    let failedOnce = false;
    r.reply = ({ json }) => (json.seq === 2 && !failedOnce ? ((failedOnce = true), { status: 502 }) : { status: 200 });
    const g = await group({ streams: [s], webhook_url: r.url, start_from: 'earliest', delivery: { initial_delay_ms: 10 } });
    const quiet = await api.get(`/v1/consumer-groups/${g.id}/activity`);
    expect(quiet.body).toMatchObject({ last_error: null });
    expect(quiet.body.minutes).toHaveLength(60);
    await send(s, [{ type: 'a', payload: {} }, { type: 'a', payload: {} }, { type: 'a', payload: {} }]);
    await eventually(() => offsetsOf(g.id), (o) => o[0]!.committed_seq === 3);

    const appended = await api.get(`/v1/streams/${s}/activity`);
    expect(appended.body).toMatchObject({ stream: s, last_seq: 3 });
    expect(appended.body.minutes).toHaveLength(60);
    expect(appended.body.minutes.reduce((sum: number, m: { events: number }) => sum + m.events, 0)).toBe(3);
    const minutes = appended.body.minutes.map((m: { minute: string }) => Date.parse(m.minute));
    expect(minutes[59] - minutes[0]).toBe(59 * 60_000);

    const activity = (await api.get(`/v1/consumer-groups/${g.id}/activity`)).body;
    const total = (key: 'delivered' | 'failed') => activity.minutes.reduce((sum: number, m: Record<string, number>) => sum + m[key]!, 0);
    expect(total('delivered')).toBe(3);
    expect(total('failed')).toBe(1);
    expect(activity.last_error).toMatchObject({ stream: s, seq: 2, attempt: 1, status_code: 502, error: 'HTTP 502' });
  });
});
