// A local HTTP server speaking the slice of Slack's Web API that Flightdeck uses (chat.postMessage,
// chat.postEphemeral, chat.update, auth.test). @slack/web-api is pointed at it with slackApiUrl.
// Sandbox mode prints what it receives; tests assert on what it keeps and make it fail on demand.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackStandInMessage {
  channel: string;
  ts: string;
  text: string;
  threadTs?: string;
  blocks?: unknown[];
  /** Every version of the text, oldest first (chat.update appends). */
  history: string[];
}

export type SlackStandInFault = { status: 500 } | { status: 429; retryAfterSeconds: number };

/** What happened: a message first posted or updated in place, or an answer to a slash command or button. */
export type SlackStandInEvent =
  | {
    kind: 'posted' | 'updated';
    message: SlackStandInMessage;
    /** The text before this update (updated only). */
    previousText?: string;
  }
  | {
    /** A POST to a response_url on the stand-in (any path outside /api/), as Slack's hooks receive them. */
    kind: 'responded';
    path: string;
    text: string;
    isInChannel: boolean;
  };

export interface SlackStandInOptions {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Messages kept from an earlier run, so updates to them keep working after a restart. */
  initialMessages?: SlackStandInMessage[];
  onEvent?: (event: SlackStandInEvent) => void;
}

export interface SlackStandIn {
  apiUrl: string;
  messages: SlackStandInMessage[];
  /** Raw calls as received (method + form fields), for asserting on what was sent. */
  calls: Array<{ method: string; body: Record<string, unknown> }>;
  /** Fail the next `count` calls (any method) with the given fault. */
  failNext(count: number, fault: SlackStandInFault): void;
  /** Every text ever sent, top-level and thread, all versions. */
  allText(): string;
  close(): Promise<void>;
}

const FIRST_TS = 1_700_000_000;

export async function startSlackStandIn(options: SlackStandInOptions = {}): Promise<SlackStandIn> {
  const messages: SlackStandInMessage[] = [...(options.initialMessages ?? [])];
  const calls: SlackStandIn['calls'] = [];
  let pendingFaults: SlackStandInFault[] = [];
  let nextTs = Math.max(FIRST_TS, ...messages.map((m) => Math.floor(Number(m.ts)) + 1));

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
      const isWebApi = (req.url ?? '').startsWith('/api/');
      res.end(JSON.stringify(isWebApi ? handle(method, body) : respond(method, body)));
    });
  });

  function respond(path: string, body: Record<string, unknown>): Record<string, unknown> {
    options.onEvent?.({ kind: 'responded', path, text: String(body.text ?? ''), isInChannel: body.response_type === 'in_channel' });
    return { ok: true };
  }

  function handle(method: string, body: Record<string, unknown>): Record<string, unknown> {
    const channel = String(body.channel ?? '');
    const text = String(body.text ?? '');
    const blocks = typeof body.blocks === 'string' ? JSON.parse(body.blocks) : body.blocks;
    switch (method) {
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const ts = `${nextTs++}.000100`;
        const message: SlackStandInMessage = { channel, ts, text, blocks, threadTs: body.thread_ts ? String(body.thread_ts) : undefined, history: [text] };
        messages.push(message);
        options.onEvent?.({ kind: 'posted', message });
        return { ok: true, channel, ts, message: { text, ts } };
      }
      case 'chat.update': {
        const message = messages.find((m) => m.ts === body.ts && m.channel === channel);
        if (!message) return { ok: false, error: 'message_not_found' };
        const previousText = message.text;
        message.text = text;
        message.blocks = blocks;
        message.history.push(text);
        options.onEvent?.({ kind: 'updated', message, previousText });
        return { ok: true, channel, ts: message.ts, text };
      }
      case 'auth.test':
        return { ok: true, user_id: 'UFLIGHTDECK', team_id: 'T0001' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://${address}:${port}/api/`,
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
