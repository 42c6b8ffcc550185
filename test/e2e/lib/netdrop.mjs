// A TCP proxy in front of a daemon (or a database) that fails the network
// on demand:
// - drop(): bytes in both directions are discarded and new connections are
//   closed at once, so that clients and daemon find the connection dead by
//   their heartbeats, as after a real network loss;
// - freeze(): the server stalls: what the client sends still reaches it
//   (a commit in flight is carried out) but no answer comes back, on live
//   and new connections alike;
// - refuse(): live connections are closed and new ones closed at once, as
//   when the server is down.
// restore() closes what is left and lets new connections through again.
// switchTo(target) moves the clients to another daemon as a load balancer
// that lost them would: their connections close on the client's side
// only, the daemon behind hears nothing.

import net from 'node:net';

/** Per mode: whether a connection's bytes flow up (to the target) and down (back), or new connections are closed. */
const MODES = {
  open: { up: true, down: true },
  dropped: { up: false, down: false, closeNew: true },
  frozen: { up: true, down: false },
  refusing: { up: false, down: false, closeNew: true, closeLive: true },
};

export class NetDrop {
  /** @param {string} target host:port of the daemon */
  constructor(target) {
    this.target = target;
    this.mode = 'open';
    this.pairs = new Set();
    this.freezeWhen = null;
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

  /** host:port of the proxy. */
  get addr() {
    return `127.0.0.1:${this.server.address().port}`;
  }

  #accept(client) {
    const { closeNew, up, down } = MODES[this.mode];
    if (closeNew) {
      client.destroy();
      return;
    }
    const [host, port] = this.target.split(':');
    const upstream = net.connect(Number(port), host);
    const pair = { client, upstream, up, down };
    this.pairs.add(pair);
    client.on('data', (b) => {
      if (!pair.up) return;
      upstream.write(b);
      if (this.freezeWhen?.(b)) {
        this.freezeWhen = null;
        this.#enter('frozen');
      }
    });
    upstream.on('data', (b) => {
      if (pair.down) client.write(b);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    // An abandoned pair (switchTo) keeps its upstream open.
    const clientEnd = () => (pair.abandoned ? client.destroy() : end());
    client.on('error', clientEnd).on('close', clientEnd);
    upstream.on('error', end).on('close', end);
  }

  #enter(mode) {
    this.mode = mode;
    const { up, down, closeLive } = MODES[mode];
    for (const p of this.pairs) {
      if (closeLive) {
        p.client.destroy();
        p.upstream.destroy();
      }
      p.up = up;
      p.down = down;
    }
    if (closeLive) this.pairs.clear();
  }

  /** Drops the network: live connections go silent. */
  drop() {
    this.#enter('dropped');
  }

  /**
   * Freezes the server now, or, with match, right after the first chunk a
   * client sends that match(chunk) accepts (the chunk itself goes through).
   */
  freeze(match) {
    if (match) this.freezeWhen = match;
    else this.#enter('frozen');
  }

  /** Closes live connections and refuses new ones. */
  refuse() {
    this.freezeWhen = null;
    this.#enter('refusing');
  }

  /** Restores the network, optionally towards another daemon. */
  restore(target = this.target) {
    this.target = target;
    this.freezeWhen = null;
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    this.mode = 'open';
  }

  /**
   * Closes the clients' live connections on their side only (the daemon
   * keeps its side open and gets no more bytes, nor a close, until its own
   * heartbeat gives up) and sends new connections to target.
   */
  switchTo(target) {
    for (const p of this.pairs) {
      p.up = false;
      p.down = false;
      p.abandoned = true;
      p.client.destroy();
    }
    this.target = target;
    this.freezeWhen = null;
    this.mode = 'open';
  }

  async close() {
    this.restore();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
