// Connection state recovery with the official client: a socket that lost
// its network gets back its sid and rooms and every message it missed,
// once and in order, without re-emitting hub:join; across a network drop,
// a daemon restart (SIGTERM, kill -9) and a move to another node.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, startDaemon, until, waitForEvent } from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';
import { NetDrop } from './lib/netdrop.mjs';
import { uniquePrefix } from './lib/redis.mjs';

const N = 100;
// Heartbeats short enough that a drop is noticed within the test.
const FAST = { HUBD_SOCKETIO__PING_INTERVAL: '500ms', HUBD_SOCKETIO__PING_TIMEOUT: '1s' };
const daemons = [];
const proxies = [];

after(async () => {
  disconnectAll();
  for (const p of proxies) await p.close();
  for (const d of daemons) await d.close();
});

async function daemon(opts = {}) {
  const d = await startDaemon({ ...opts, env: { ...FAST, ...opts.env } });
  daemons.push(d);
  return d;
}

async function proxyTo(d) {
  const p = await new NetDrop(d.addr).start();
  proxies.push(p);
  return p;
}

// member joins the general room through url and records what arrives.
async function member(url, user, opts = {}) {
  const s = await connect(url, NSP.chat, { token: tokenFor(user), reconnect: true, ...opts });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

function arrived(s, tag) {
  return s.received
    .filter((e) => e.name === 'hub:messageArrived' && String(e.data.message.content.body).startsWith(tag))
    .map((e) => e.data.message.content.body);
}

async function sendAll(s, tag) {
  const want = [];
  for (let i = 0; i < N; i++) {
    const body = `${tag} ${i}`;
    const ack = await emitWithAck(s, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    want.push(body);
  }
  return want;
}

// whileAway drops alice's network, runs fn, restores the network (to
// target) and checks she recovered with every message once, in order.
async function whileAway(proxy, alice, fn, target) {
  const sid = alice.id;
  let reconnected = false;
  alice.io.once('reconnect', () => { reconnected = true; });
  const warm = await emitWithAck(alice, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: 'warm-up' } });
  assert.equal(warm.ok, true);
  await waitForEvent(alice, 'hub:messageArrived', (d) => d.message.content.body === 'warm-up');
  proxy.drop();
  await until(() => !alice.connected, { timeoutMs: 10_000, what: 'alice notices the drop' });
  const tag = `m${Date.now()}`;
  const want = await fn(tag);
  proxy.restore(typeof target === 'function' ? target() : target);
  await until(() => reconnected && alice.connected, { timeoutMs: 20_000, what: 'alice reconnects' });
  assert.equal(alice.recovered, true, 'socket.recovered');
  assert.equal(alice.id, sid, 'same sid');
  await until(() => arrived(alice, tag).length >= N, { timeoutMs: 10_000, what: 'the missed messages' });
  // A live message after recovery arrives without a new hub:join.
  return { tag, want };
}

async function checkAfter(alice, bob, tag, want) {
  const live = await emitWithAck(bob, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: `${tag} live` } });
  assert.equal(live.ok, true);
  await waitForEvent(alice, 'hub:messageArrived', (d) => d.message.content.body === `${tag} live`);
  assert.deepEqual(arrived(alice, tag), [...want, `${tag} live`], 'every message once, in order');
  assert.equal(alice.received.filter((e) => e.name === 'hub:history').length, 1, 'no second join');
}

test('a 10 s network drop while another member sends 100 messages', async () => {
  const d = await daemon();
  const proxy = await proxyTo(d);
  const alice = await member(proxy.url, 'alice');
  const bob = await member(d.url, 'bob');
  const { tag, want } = await whileAway(proxy, alice, async (t) => {
    const started = Date.now();
    const want = await sendAll(bob, t);
    await until(() => Date.now() - started >= 10_000, { timeoutMs: 15_000, intervalMs: 200, what: '10 s offline' });
    return want;
  });
  await checkAfter(alice, bob, tag, want);
});

/** Joins each socket to the random room too (member joined general). */
async function joinRandom(...sockets) {
  for (const s of sockets) {
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  }
}

/** The bodies tagged tag that s got in roomId, in arrival order. */
function inRoom(s, roomId, tag) {
  return s.received
    .filter((e) => e.name === 'hub:messageArrived' && e.data.roomId === roomId && String(e.data.message.content.body).startsWith(tag))
    .map((e) => e.data.message.content.body);
}

/**
 * Sends `pairs` pairs from s, each pair at once, one message to each of
 * rooms (their messages are often stamped in the same millisecond):
 * "<tag> <room index> <i>". before(i) runs before pair i. Resolves with
 * the bodies sent per room.
 */
async function sendPairs(s, rooms, tag, pairs, before = async () => {}) {
  const want = new Map(rooms.map((r) => [r, []]));
  for (let i = 0; i < pairs; i++) {
    await before(i);
    await Promise.all(rooms.map(async (roomId, k) => {
      const body = `${tag} ${k} ${i}`;
      const ack = await emitWithAck(s, 'hub:send', { roomId, messageType: 'text', content: { body } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      want.get(roomId).push(body);
    }));
  }
  return want;
}

/** A live message per room from bob, then every room of alice holds want and it, once, in order. */
async function checkRooms(alice, bob, rooms, tag, want) {
  for (const roomId of rooms) {
    const body = `${tag} live ${roomId}`;
    const ack = await emitWithAck(bob, 'hub:send', { roomId, messageType: 'text', content: { body } });
    assert.equal(ack.ok, true);
    await waitForEvent(alice, 'hub:messageArrived', (m) => m.message.content.body === body);
    assert.deepEqual(inRoom(alice, roomId, tag), [...want.get(roomId), body], `every message of ${roomId} once, in order`);
  }
}

test('a drop while two rooms receive interleaved messages: both rooms whole, once, in order', async () => {
  const d = await daemon();
  const proxy = await proxyTo(d);
  const rooms = [ROOMS.general, ROOMS.random];
  const alice = await member(proxy.url, 'alice');
  const bob = await member(d.url, 'bob');
  await joinRandom(alice, bob);
  const sid = alice.id;
  let reconnected = false;
  alice.io.once('reconnect', () => { reconnected = true; });
  const tag = `i${Date.now()}`;
  // The network drops in the middle of the stream, right when alice got
  // the first message of a pair.
  const dropAt = ` 20`;
  const dropper = (m) => {
    if (String(m.message.content.body).startsWith(tag) && m.message.content.body.endsWith(dropAt)) {
      proxy.drop();
      alice.off('hub:messageArrived', dropper);
    }
  };
  alice.on('hub:messageArrived', dropper);
  const want = await sendPairs(bob, rooms, tag, 80, async (i) => {
    if (i === 60) await until(() => !alice.connected, { timeoutMs: 10_000, what: 'alice notices the drop' });
  });
  proxy.restore();
  await until(() => reconnected && alice.connected, { timeoutMs: 20_000, what: 'alice reconnects' });
  assert.equal(alice.recovered, true, 'socket.recovered');
  assert.equal(alice.id, sid, 'same sid');
  await checkRooms(alice, bob, rooms, tag, want);
});

for (const transport of ['websocket', 'polling']) test(`recovery across a daemon restart (SIGTERM), ${transport}`, async () => {
  const d = await daemon();
  const proxy = await proxyTo(d);
  const alice = await member(proxy.url, 'alice', { transport });
  let bob;
  const { tag, want } = await whileAway(proxy, alice, async (t) => {
    await d.restart();
    bob = await member(d.url, 'bob');
    return sendAll(bob, t);
  }, () => d.addr);
  await checkAfter(alice, bob, tag, want);
});

test('recovery across kill -9: the committed session and messages', async () => {
  const d = await daemon();
  const proxy = await proxyTo(d);
  const alice = await member(proxy.url, 'alice');
  let bob;
  const { tag, want } = await whileAway(proxy, alice, async (t) => {
    d.child.kill('SIGKILL');
    await d.exited;
    await d.start();
    bob = await member(d.url, 'bob');
    return sendAll(bob, t);
  }, () => d.addr);
  await checkAfter(alice, bob, tag, want);
});

test('after kill -9, a session is not recovered once maxDisconnectionDuration passed', async () => {
  const WINDOW_MS = 1500;
  // The node's liveness stamp lives the window plus one beat (a quarter of it).
  const d = await daemon({ env: { HUBD_SOCKETIO__MAX_DISCONNECTION_DURATION: `${WINDOW_MS}ms` } });
  const proxy = await proxyTo(d);
  const alice = await member(proxy.url, 'alice');
  const sid = alice.id;
  proxy.drop();
  d.child.kill('SIGKILL');
  await d.exited;
  const killed = Date.now();
  await until(() => !alice.connected, { timeoutMs: 10_000, what: 'alice notices the drop' });
  await until(() => Date.now() - killed > WINDOW_MS * 1.25 + 500, { timeoutMs: 10_000, intervalMs: 100, what: 'the window passed' });
  await d.start();
  let reconnected = false;
  alice.io.once('reconnect', () => { reconnected = true; });
  proxy.restore(d.addr);
  await until(() => reconnected && alice.connected, { timeoutMs: 20_000, what: 'alice reconnects' });
  assert.equal(alice.recovered, false, 'the record of the killed node is no longer usable');
  assert.notEqual(alice.id, sid, 'a fresh session');
});

test('recovery on another node (Redis and PostgreSQL)', { skip: !process.env.HUBD_TEST_REDIS_ADDR || !process.env.HUBD_TEST_DATABASE_URL }, async () => {
  const env = { HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR, HUBD_REDIS__PREFIX: uniquePrefix() };
  const a = await daemon({ store: 'postgres', env });
  const b = await daemon({ env: { ...env, HUBD_STORE: 'postgres', HUBD_POSTGRES__DSN: a.env.HUBD_POSTGRES__DSN, HUBD_POSTGRES__SCHEMA: a.pgSchema } });
  const proxy = await proxyTo(a);
  const alice = await member(proxy.url, 'alice');
  const bob = await member(b.url, 'bob');
  const { tag, want } = await whileAway(proxy, alice, (t) => sendAll(bob, t), b.addr);
  await checkAfter(alice, bob, tag, want);
});

/** The value of a metric's series (its name with labels, as printed) in a /metrics text; 0 when absent. */
function metric(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

for (const transport of ['websocket', 'polling']) test(`back through another node before the first noticed the drop: exact, and the old socket ends at once, ${transport}`, { skip: !process.env.HUBD_TEST_REDIS_ADDR || !process.env.HUBD_TEST_DATABASE_URL }, async () => {
  // Heartbeats far longer than the test: node a never notices the drop by itself.
  const slow = { HUBD_SOCKETIO__PING_INTERVAL: '25s', HUBD_SOCKETIO__PING_TIMEOUT: '20s' };
  const env = { ...slow, HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR, HUBD_REDIS__PREFIX: uniquePrefix() };
  const a = await daemon({ store: 'postgres', env });
  const b = await daemon({ env: { ...env, HUBD_STORE: 'postgres', HUBD_POSTGRES__DSN: a.env.HUBD_POSTGRES__DSN, HUBD_POSTGRES__SCHEMA: a.pgSchema } });
  const proxy = await proxyTo(a);
  const rooms = [ROOMS.general, ROOMS.random];
  const alice = await member(proxy.url, 'alice', { transport });
  const bob = await member(b.url, 'bob');
  await joinRandom(alice, bob);
  const sockets = async (d) => metric(await d.metrics(), 'hubd_hub_sockets{hub="chat"}');
  assert.equal(await sockets(a), 1, 'alice on a');
  const sid = alice.id;
  let reconnected = false;
  alice.io.once('reconnect', () => { reconnected = true; });
  const tag = `t${Date.now()}`;
  // alice's connection moves to b right when she got the first message of
  // a pair, while a still writes to her old socket.
  const switcher = (m) => {
    if (String(m.message.content.body) === `${tag} 0 20`) {
      proxy.switchTo(b.addr);
      alice.off('hub:messageArrived', switcher);
    }
  };
  alice.on('hub:messageArrived', switcher);
  const want = await sendPairs(bob, rooms, tag, 60);
  await until(() => reconnected && alice.connected, { timeoutMs: 20_000, what: 'alice reconnects through b' });
  assert.equal(alice.recovered, true, 'socket.recovered');
  assert.equal(alice.id, sid, 'same sid');
  await checkRooms(alice, bob, rooms, tag, want);
  const mb = await b.metrics();
  assert.equal(metric(mb, 'hubd_hub_session_takeovers_total{hub="chat",result="ended"}'), 1, 'a ended the old socket');
  assert.equal(metric(mb, 'hubd_hub_recoveries_total{hub="chat",result="recovered"}'), 1, 'an exact recovery');
  assert.equal(metric(mb, 'hubd_hub_recoveries_total{hub="chat",result="recovered_by_time"}'), 0);
  assert.equal(await sockets(a), 0, 'the old socket on a is gone, long before its ping timeout');
});

test('a pid of another user is refused: a fresh session', async () => {
  const d = await daemon();
  const proxy = await proxyTo(d);
  const alice = await member(proxy.url, 'alice');
  const pid = alice._pid;
  assert.ok(pid, 'the CONNECT reply carries a pid');
  proxy.drop();
  await until(() => !alice.connected, { timeoutMs: 10_000, what: 'alice notices the drop' });
  alice.io.reconnection(false);
  proxy.restore();
  const mallory = await connect(d.url, NSP.chat, { auth: { token: tokenFor('bob'), pid, offset: alice._lastOffset } });
  assert.equal(mallory.recovered, false);
  assert.notEqual(mallory.id, alice.id, 'not alice\'s sid');
  assert.notEqual(mallory._pid, pid, 'a new pid');
  const left = await emitWithAck(mallory, 'hub:leave', { roomId: ROOMS.general });
  assert.equal(left.ok, false, 'not in alice\'s rooms');
});
