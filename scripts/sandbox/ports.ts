// The sandbox's fixed ports: the URLs it prints stay the same from one `npm start` to the next.
import net from 'node:net';
import { freePort } from '../../lib/net.js';

export interface SandboxPorts {
  temporal: number;
  temporalUi: number;
  api: number;
  postgres: number;
  slack: number;
}

export const DEFAULT_SANDBOX_PORTS: SandboxPorts = { temporal: 7233, temporalUi: 8233, api: 8080, postgres: 55432, slack: 8091 };

const PORT_ROLES: Record<keyof SandboxPorts, string> = {
  temporal: 'the Temporal server', temporalUi: 'the Temporal web UI', api: 'the Flightdeck API', postgres: 'the demo PostgreSQL', slack: 'the Slack stand-in',
};

/** Free ports for every role (the unattended demo, which must not collide with a running sandbox). */
export async function anyFreePorts(): Promise<SandboxPorts> {
  const ports: Partial<SandboxPorts> = {};
  for (const role of Object.keys(PORT_ROLES) as Array<keyof SandboxPorts>) ports[role] = await freePort();
  return ports as SandboxPorts;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Refuses to start (before anything runs) when a port is taken, naming it and what it was for. */
export async function assertPortsFree(ports: SandboxPorts): Promise<void> {
  const taken: string[] = [];
  for (const [role, port] of Object.entries(ports) as Array<[keyof SandboxPorts, number]>) {
    if (!(await isPortFree(port))) taken.push(`port ${port} (${PORT_ROLES[role]})`);
  }
  if (taken.length === 0) return;
  throw new Error(`Cannot start the sandbox: ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} already in use. `
    + 'Is another `npm start` still running? Stop it (Ctrl-C in its terminal) or free the port, then try again.');
}
