// A local HTTP server speaking the slice of Slack's Web API that Flightdeck uses, so tests point
// @slack/web-api at it with slackApiUrl. It keeps every message and can fail on demand.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text: string;
  threadTs?: string;
  blocks?: unknown[];
  /** Every version of the text, oldest first (chat.update appends). */
  history: string[];
}

export type FakeSlackFault = { status: 500 } | { status: 429; retryAfterSeconds: number };

export interface FakeSlack {
  apiUrl: string;
  messages: FakeSlackMessage[];
  /** Raw calls as received (method + form fields), for asserting on what was sent. */
  calls: Array<{ method: string; body: Record<string, unknown> }>;
  /** Fail the next `count` calls (any method) with the given fault. */
  failNext(count: number, fault: FakeSlackFault): void;
  /** Every text ever sent, top-level and thread, all versions. */
  allText(): string;
  close(): Promise<void>;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const messages: FakeSlackMessage[] = [];
  const calls: FakeSlack['calls'] = [];
  let pendingFaults: FakeSlackFault[] = [];
  let nextTs = 1_700_000_000;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').replace(/^\//, '').split('?')[0]!;
      const body = parseBody(req.headers['content-type'] ?? '', Buffer.concat(chunks).toString('utf8'));
      calls.push({ method, body });
      const fault = pendingFaults.shift();
      if (fault) {
        if (fault.status === 429) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
        res.writeHead(fault.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: fault.status === 429 ? 'ratelimited' : 'internal_error' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(handle(method, body)));
    });
  });

  function handle(method: string, body: Record<string, unknown>): Record<string, unknown> {
    const channel = String(body.channel ?? '');
    const text = String(body.text ?? '');
    const blocks = typeof body.blocks === 'string' ? JSON.parse(body.blocks) : body.blocks;
    switch (method) {
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const ts = `${nextTs++}.000100`;
        messages.push({ channel, ts, text, blocks, threadTs: body.thread_ts ? String(body.thread_ts) : undefined, history: [text] });
        return { ok: true, channel, ts, message: { text, ts } };
      }
      case 'chat.update': {
        const message = messages.find((m) => m.ts === body.ts && m.channel === channel);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = text;
        message.blocks = blocks;
        message.history.push(text);
        return { ok: true, channel, ts: message.ts, text };
      }
      case 'auth.test':
        return { ok: true, user_id: 'UFLIGHTDECK', team_id: 'T0001' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    messages,
    calls,
    failNext(count, fault) { pendingFaults = [...pendingFaults, ...Array.from({ length: count }, () => fault)]; },
    allText: () => messages.flatMap((m) => m.history).join('\n'),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function parseBody(contentType: string, raw: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return raw ? JSON.parse(raw) : {};
  return Object.fromEntries(new URLSearchParams(raw));
}
