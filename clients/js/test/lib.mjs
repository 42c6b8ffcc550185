// Helpers of the client package's tests: the e2e harness starts the real
// daemon (bin/hubd, HUBD_BIN), and a TCP proxy in front of it cuts the
// network on demand.

import net from 'node:net';
import { after } from 'node:test';

import { until } from '../../../test/e2e/lib/harness.mjs';
import { FEATURES, FROOMS, PEOPLE, tokenOf } from '../../../test/e2e/lib/features.mjs';
import { HubClient } from '../dist/esm/index.js';

export { FEATURES, FROOMS, PEOPLE, tokenOf, until };

/** A TCP port free right now. */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Client options for tests: quick reconnects, short acks. */
export function clientOf(url, hub, user, extra = {}) {
  const c = new HubClient(url, hub, {
    token: () => tokenOf(user),
    ackTimeoutMs: 3000,
    socket: { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 400, forceNew: true },
    ...extra,
  });
  live.add(c);
  return c;
}

// Clients left open by a failing test would keep reconnecting and the test
// process alive: close them all when the file's tests end.
const live = new Set();
after(() => {
  for (const c of live) c.close();
  live.clear();
});

/** Resolves when the client is connected. */
export function connected(client) {
  return until(() => client.connected, { what: 'client connected' });
}

/**
 * A TCP proxy to target (host:port). drop() cuts every connection and
 * refuses new ones until restore().
 */
export class Proxy {
  constructor(target) {
    const [host, port] = target.split(':');
    this.sockets = new Set();
    this.down = false;
    this.server = net.createServer((inbound) => {
      if (this.down) return inbound.destroy();
      const outbound = net.connect(Number(port), host);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      inbound.pipe(outbound).on('error', () => {});
      outbound.pipe(inbound).on('error', () => {});
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  drop() {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  restore() {
    this.down = false;
  }

  close() {
    this.drop();
    return new Promise((resolve) => this.server.close(resolve));
  }
}
