// A TCP proxy in front of a daemon that can drop the network: while
// dropped, bytes in both directions are discarded and new connections are
// closed at once, so that clients and daemon find the connection dead by
// their heartbeats, as after a real network loss.

import net from 'node:net';

export class NetDrop {
  /** @param {string} target host:port of the daemon */
  constructor(target) {
    this.target = target;
    this.dropped = false;
    this.pairs = new Set();
  }

  async start() {
    this.server = net.createServer((client) => this.#accept(client));
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** Base URL of the proxy. */
  get url() {
    return `http://127.0.0.1:${this.server.address().port}`;
  }

  #accept(client) {
    if (this.dropped) {
      client.destroy();
      return;
    }
    const [host, port] = this.target.split(':');
    const upstream = net.connect(Number(port), host);
    const pair = { client, upstream, dead: false };
    this.pairs.add(pair);
    const forward = (from, to) => from.on('data', (b) => {
      if (!pair.dead) to.write(b);
    });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  /** Drops the network: live connections go silent. */
  drop() {
    this.dropped = true;
    for (const p of this.pairs) p.dead = true;
  }

  /** Restores the network, optionally towards another daemon. */
  restore(target = this.target) {
    this.target = target;
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    this.dropped = false;
  }

  async close() {
    this.restore();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
