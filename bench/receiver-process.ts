// The benchmark's webhook receiver, in a process of its own (as a consumer would be):
// answers 200 at once, counts requests, and records when each event id first arrived.
import { createServer } from 'node:http';

const arrivals = new Map<string, number>();
let count = 0;

const server = createServer((req, res) => {
  const id = req.headers['webhook-id'] as string | undefined;
  req.resume();
  req.on('end', () => {
    count++;
    if (id && !arrivals.has(id)) arrivals.set(id, performance.timeOrigin + performance.now());
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (message: { type: string }) => {
  if (message.type === 'count') process.send!({ type: 'count', count });
  if (message.type === 'arrivals') process.send!({ type: 'arrivals', arrivals: [...arrivals] });
  if (message.type === 'reset') {
    arrivals.clear();
    count = 0;
    process.send!({ type: 'reset' });
  }
});

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as { port: number }).port });
});
