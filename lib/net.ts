import net from 'node:net';

/**
 * A free loopback port for a server that another program binds later (a Temporal or PostgreSQL
 * server, the sandbox's services). It is below 32768, where Linux's ephemeral ports (32768-60999)
 * do not go: a kernel-chosen port can be taken by any outgoing connection between this check and
 * that program's bind, which failed a dev server start in CI ("bind: address already in use").
 */
export function freePort(): Promise<number> {
  return freePortInRange(10_000, 32_767);
}

/** Resolves once something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const isOpen = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => { socket.destroy(); resolve(false); });
    });
    if (isOpen) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ports this process has handed out: two servers started one after the other never get the same one. */
const handedOut = new Set<number>();

/** A free loopback port in [min, max], tried at random (for programs that cannot take a kernel-chosen port). */
export async function freePortInRange(min: number, max: number, attempts = 50): Promise<number> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (handedOut.has(port)) continue;
    const isFree = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!isFree) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${min} and ${max} after ${attempts} attempts`);
}
