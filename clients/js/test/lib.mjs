// Helpers of the client package's tests: the e2e harness starts the real
// daemon (bin/hubd, HUBD_BIN), and a TCP proxy in front of it cuts the
// network on demand.

import assert from 'node:assert/strict';
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
 * refuses new ones until restore(); retarget() sends new connections to
 * another address (another node).
 */
export class Proxy {
  constructor(target) {
    this.target = target;
    this.sockets = new Set();
    this.down = false;
    this.server = net.createServer((inbound) => {
      if (this.down) return inbound.destroy();
      const [host, port] = this.target.split(':');
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

  retarget(target) {
    this.target = target;
  }

  close() {
    this.drop();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

/** Every message of a room in the store, oldest first (paged by 200). */
export async function storedAll(client, roomId) {
  const stored = [];
  let after;
  for (;;) {
    const page = await client.history(roomId, after ? { after, limit: 200 } : { limit: 200 });
    stored.push(...page);
    if (page.length < 200) return stored;
    after = page[page.length - 1].id;
  }
}

/**
 * Checks the room's store: the messages with the sent bodies, by seq, are
 * the bodies in send() order (with a send window w > 1: the same bodies,
 * each stored after at most w - 1 sends made after it), each
 * clientMessageId stored once, and each send resolved (acked, in send
 * order) with its own message, the stored one. Returns the most later
 * sends stored before one send.
 */
export async function storedInOrder(reader, roomId, sent, acked, { window = 1 } = {}) {
  const mine = (await storedAll(reader, roomId)).filter((m) => sent.includes(m.content.body)).sort((a, b) => a.seq - b.seq);
  const bodies = mine.map((m) => m.content.body);
  if (window === 1) assert.deepEqual(bodies, sent, 'stored in send() order');
  assert.deepEqual([...bodies].sort(), [...sent].sort(), 'each body stored once');
  const overtaken = mostOvertaken(bodies, sent);
  assert.ok(overtaken <= window - 1, `a send was stored after ${overtaken} later sends (window ${window})`);
  assert.equal(new Set(mine.map((m) => m.clientMessageId)).size, sent.length, 'each clientMessageId stored once');
  assert.deepEqual(acked.map((m) => m.content.body), sent, 'each send resolves with its own message');
  const byBody = new Map(mine.map((m) => [m.content.body, m.id]));
  assert.deepEqual(acked.map((m) => m.id), sent.map((b) => byBody.get(b)), 'each send resolves with the stored message');
  if (window === 1) for (let i = 1; i < acked.length; i++) assert.ok(acked[i].seq > acked[i - 1].seq, `acked seq order at ${i}`);
  return overtaken;
}

/** The most sends made after one send that were stored before it. */
function mostOvertaken(stored, sent) {
  const at = new Map(sent.map((b, i) => [b, i]));
  let most = 0;
  stored.forEach((b, i) => {
    const later = stored.slice(0, i).filter((x) => at.get(x) > at.get(b)).length;
    most = Math.max(most, later);
  });
  return most;
}

/** n message bodies: prefix0, prefix1, ... */
export const bodies = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Sends each body in turn without waiting; returns the sends' promises. */
export function sendAll(client, roomId, list) {
  return list.map((body) => client.send(roomId, 'text', { body }));
}

/**
 * Starts sending each body without waiting and resolves with the sends'
 * promises once `started` of them are acked (the rest under way or queued).
 */
export async function streamStarted(client, roomId, list, started) {
  const sends = sendAll(client, roomId, list);
  let done = 0;
  for (const p of sends) p.then(() => done++, () => {});
  await until(() => done >= started, { what: 'the stream started' });
  return sends;
}

/** Records what a reader is delivered; checks it holds each message once, in seq order. */
export function reader(client, roomId) {
  const got = [];
  const rejoins = [];
  client.on('message', (m) => m.roomId === roomId && got.push(m));
  client.on('rejoined', (r) => rejoins.push(r));
  return {
    got,
    rejoins,
    check(expectedBodies) {
      const ids = new Set(got.map((m) => m.id));
      assert.equal(ids.size, got.length, 'no message is delivered twice');
      for (let i = 1; i < got.length; i++) {
        assert.ok(got[i].seq > got[i - 1].seq, `seq order at ${i}: ${got[i - 1].seq} then ${got[i].seq}`);
      }
      assert.deepEqual(got.map((m) => m.content.body).sort(), [...expectedBodies].sort());
    },
  };
}
