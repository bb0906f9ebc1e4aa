import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Ports for an API process that a script or test starts as a child. Drawn below the kernel's ephemeral range:
// the parent's own outgoing connections (Postgres, Redis, S3) take local ports from that range, and CI once lost a
// run when one of them held the port a test had drawn at random from 20000–40000 (EADDRINUSE in the child).
const FIRST_PORT = 20000;
const DEFAULT_EPHEMERAL_START = 32768;

function ephemeralStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > FIRST_PORT + 1000 ? start : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START;
  }
}

const bindable = (port: number, host: string) => new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen(port, host, () => server.close(() => resolve(true)));
});

/** A port that nothing listens on now, outside the range outgoing connections use. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const span = ephemeralStart() - FIRST_PORT;
  for (let tries = 0; tries < 100; tries++) {
    const port = FIRST_PORT + Math.floor(Math.random() * span);
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}–${FIRST_PORT + span - 1} after 100 tries`);
}
