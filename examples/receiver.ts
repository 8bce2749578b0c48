// A small webhook receiver for trying EventFlow out: `node examples/receiver.ts [port]`.
// It prints every webhook and verifies its signature when WEBHOOK_SECRET is set. An event
// whose payload has "fail": true is refused (HTTP 500) on its first two attempts.
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.argv[2] ?? 4000);
const secret = process.env.WEBHOOK_SECRET;

createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
  req.on('end', () => {
    const event = JSON.parse(body) as { stream: string; seq: number; type: string; payload: { fail?: boolean } };
    const attempt = Number(req.headers['eventflow-attempt']);
    let verified = 'unchecked';
    if (secret) {
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>);
        verified = 'valid';
      } catch {
        verified = 'INVALID';
      }
    }
    const status = event.payload.fail && attempt <= 2 ? 500 : 200;
    console.log(`${event.stream}#${event.seq} ${event.type} attempt ${attempt} signature ${verified} -> ${status}`);
    res.writeHead(status).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`receiver listening on http://127.0.0.1:${port}/hooks`));
