// Two hubd nodes on one PostgreSQL message store and a Redis of the
// suite's own: a room's messages reach every member on both nodes in seq
// order, exactly once, while both nodes send into it, and after Redis
// restarts the members on the other node still get every message sent
// during the outage (repaired from the store), once and in order.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, psql, tempDir, uniqueSchema, until } from './lib/harness.mjs';
import { writeOpenHub, startNodes } from './lib/cluster.mjs';
import { FROOMS, joinAs, PEOPLE, sendText, tokenOf } from './lib/features.mjs';
import { ident } from './lib/pgrecords.mjs';
import { PrivateRedis } from './lib/redis.mjs';
import { RestClient } from './lib/rest.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL
  ? false
  : 'HUBD_TEST_DATABASE_URL is needed (scripts/test.sh starts PostgreSQL)';

/** The hub:messageArrived payloads of a room on a socket, in arrival order. */
function arrivals(socket, room) {
  return socket.received
    .filter((ev) => ev.name === 'hub:messageArrived' && ev.data.roomId === room)
    .map((ev) => ev.data.message);
}

/**
 * Asserts that socket received exactly the acked messages (and nothing
 * else of the room after the first of them), each once, in seq order
 * without holes.
 */
function assertOrderedOnce(socket, room, acked, who) {
  const want = new Set(acked.map((m) => m.id));
  const low = Math.min(...acked.map((m) => m.seq));
  const got = arrivals(socket, room).filter((m) => m.seq >= low);
  const ids = got.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, `${who}: a message arrived twice`);
  const missing = [...want].filter((id) => !ids.includes(id));
  assert.deepEqual(missing, [], `${who}: ${missing.length} of ${want.size} messages missing`);
  assert.equal(got.length, want.size, `${who}: received messages nobody acked`);
  got.forEach((m, i) => assert.equal(m.seq, low + i, `${who}: position ${i} holds seq ${m.seq}, not ${low + i}`));
}

/** Waits until socket received every acked message of the room. */
async function receivedAll(socket, room, acked, what) {
  const want = acked.map((m) => m.id);
  await until(
    () => {
      const ids = new Set(arrivals(socket, room).map((m) => m.id));
      return want.every((id) => ids.has(id));
    },
    { timeoutMs: 30_000, what },
  );
}

describe('two nodes, one room: order and exactly once', { skip }, () => {
  let hubs;
  let msgSchema;
  let redis;
  let a;
  let b;

  before(async () => {
    hubs = await tempDir('hubd-e2e-order-hubs-');
    await writeOpenHub(hubs, 'order', { presence: true, historyLimit: 50 });
    msgSchema = uniqueSchema('e2e_omsg');
    redis = await new PrivateRedis().start();
    [a, b] = await startNodes(2, { hubs, redisAddr: redis.addr, pgSchema: msgSchema });
  });

  after(async () => {
    disconnectAll();
    await a?.close();
    await b?.close();
    await redis?.close();
    if (msgSchema) psql(`DROP SCHEMA IF EXISTS ${ident(msgSchema)} CASCADE;`);
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  test('both nodes sending at once: every member on either node gets every message once, in seq order', async () => {
    const room = FROOMS.room1;
    const alice = (await joinAs(a, 'order', 'alice', room)).socket;
    const bob = (await joinAs(b, 'order', 'bob', room)).socket;
    const carol = (await joinAs(b, 'order', 'carol', room, { transport: 'polling' })).socket;
    const dave = (await joinAs(a, 'order', 'dave', room, { transport: 'polling' })).socket;

    const PER_SENDER = 60;
    const burst = async (socket, tag) => {
      const out = [];
      for (let i = 0; i < PER_SENDER; i++) out.push(await sendText(socket, room, `${tag} ${i}`));
      return out;
    };
    // Four senders on two nodes, concurrently: seqs interleave across nodes.
    const acked = (await Promise.all([burst(alice, 'A1'), burst(bob, 'B1'), burst(carol, 'B2'), burst(dave, 'A2')])).flat();
    for (const [s, who] of [
      [alice, 'alice on A'],
      [dave, 'dave on A (polling)'],
      [bob, 'bob on B'],
      [carol, 'carol on B (polling)'],
    ]) {
      await receivedAll(s, room, acked, `${who} to receive ${acked.length} messages`);
      assertOrderedOnce(s, room, acked, who);
    }
  });

  test('Redis restarted while node A sends: the member on node B gets every message, once, in order', async () => {
    const room = FROOMS.room2;
    const alice = (await joinAs(a, 'order', 'alice', room)).socket;
    const bob = (await joinAs(b, 'order', 'bob', room)).socket;
    const acked = [];
    for (let i = 0; i < 5; i++) acked.push(await sendText(alice, room, `before ${i}`));
    await receivedAll(bob, room, acked, 'bob to receive the messages sent before the outage');

    const restored = b.logs.length;
    await redis.stop();
    const pace = () => new Promise((r) => setTimeout(r, 40));
    for (let i = 0; i < 30; i++) {
      acked.push(await sendText(alice, room, `during ${i}`));
      await pace();
    }
    await redis.start();
    // Nothing is sent after the outage: the resubscription alone must
    // bring the outage's messages to node B.
    await b.waitForLog((l) => l.msg === 'redis subscription restored', { from: restored, timeoutMs: 15_000, what: 'resubscription on B' });
    await receivedAll(bob, room, acked, 'bob to receive the messages of the outage');
    for (let i = 0; i < 5; i++) acked.push(await sendText(alice, room, `after ${i}`));
    await receivedAll(bob, room, acked, 'bob to receive the messages after the outage');
    assertOrderedOnce(bob, room, acked, 'bob on B');
    assertOrderedOnce(alice, room, acked, 'alice on A');
    // The history agrees.
    const hist = await emitWithAck(bob, 'hub:loadHistory', { roomId: room });
    assert.equal(hist.ok, true, JSON.stringify(hist));
    assert.deepEqual(
      hist.messages.map((m) => m.id),
      acked.map((m) => m.id),
    );
  });

  test("Redis stalls (SIGSTOP): presence, joins and sends answer from the node's own view within a bounded time; all resynchronizes when it runs again", async (t) => {
    const room = FROOMS.room4;
    const name = (id) => Object.keys(PEOPLE).find((k) => PEOPLE[k].userId === id) ?? id;
    const presence = async (node) => {
      const start = Date.now();
      const res = await new RestClient(node, 'order').get(`/rooms/${room}/presence`, { token: tokenOf('alice') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return { ms: Date.now() - start, users: res.body.users.map((u) => name(u.userId)).sort() };
    };
    const degraded = async (node) => /^hubd_redis_degraded 1$/m.test(await node.metrics());
    const alice = (await joinAs(a, 'order', 'alice', room)).socket;
    const carol = (await joinAs(b, 'order', 'carol', room)).socket;
    assert.deepEqual((await presence(a)).users, ['alice', 'carol']);

    const fromA = a.logs.length;
    const fromB = b.logs.length;
    redis.pause();
    try {
      // Presence: the node's own members, within a second.
      const p = await presence(a);
      assert.deepEqual(p.users, ['alice'], 'node A answers with its own members');
      assert.ok(p.ms < 1500, `presence took ${p.ms} ms`);
      await a.waitForLog((l) => l.msg?.startsWith('redis degraded'), { from: fromA, what: 'degraded log line on A' });
      assert.ok(await degraded(a), 'hubd_redis_degraded 1 on A');
      // A join through the stalled Redis stays fast.
      const start = Date.now();
      const bob = (await joinAs(a, 'order', 'bob', room)).socket;
      const joinMs = Date.now() - start;
      assert.ok(joinMs < 1500, `connect and join took ${joinMs} ms`);
      t.diagnostic(`with Redis stalled: first /presence ${p.ms} ms, connect+join ${joinMs} ms`);
      assert.deepEqual((await presence(a)).users, ['alice', 'bob']);
      // Sends are stored and delivered on the node.
      const during = [];
      for (let i = 0; i < 3; i++) during.push(await sendText(alice, room, `stalled ${i}`));
      await receivedAll(bob, room, during, 'bob on A to receive the messages sent during the stall');
      await receivedAll(alice, room, during, 'alice on A to receive the messages sent during the stall');
      redis.resume();
      await a.waitForLog((l) => l.msg?.startsWith('redis available again'), { from: fromA, timeoutMs: 15_000, what: 'recovery log line on A' });
      await until(async () => !(await degraded(a)), { what: 'hubd_redis_degraded 0 on A' });
      // Node B gets the stall's messages without anything sent after them,
      // and both nodes list bob, who joined during the stall.
      await receivedAll(carol, room, during, 'carol on B to receive the messages sent during the stall');
      assertOrderedOnce(carol, room, during, 'carol on B');
      await until(async () => (await presence(b)).users.join() === 'alice,bob,carol', { what: 'presence on B with bob' });
      assert.deepEqual((await presence(a)).users, ['alice', 'bob', 'carol']);
      assert.ok(b.logs.length >= fromB);
    } finally {
      redis.resume();
    }
  });
});
