import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../src/ports.ts';

const listen = (port: number) => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => resolve(server));
});

test('freePort: a port below the kernel ephemeral range that can be listened on at once', async () => {
  const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port >= 20000 && port < ephemeralStart, `${port} is outside 20000–${ephemeralStart - 1}`);
    const server = await listen(port);
    await new Promise((r) => server.close(r));
  }
});
