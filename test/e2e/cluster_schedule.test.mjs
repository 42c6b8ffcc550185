// Scheduled actions of a room with members on two nodes run on one node
// only (the holder of the room's lease in Redis), and move to the other
// node when the holder's members leave.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  FIXTURES,
  makeToken,
  startDaemon,
  waitForEvent,
} from './lib/harness.mjs';
import { deleteKeys, redis, uniquePrefix } from './lib/redis.mjs';

const skip = process.env.HUBD_TEST_REDIS_ADDR
  ? false
  : 'HUBD_TEST_REDIS_ADDR is needed (scripts/test.sh starts Redis)';

const CLUSTER = path.join(FIXTURES, 'cluster');
const NSP = '/hub/beacon';
const ROOM = 'beacon1';
// The lease ttl (pkg/hub/schedule.go): the other node asks again within a
// third of it, plus the upkeep period; generous for a loaded machine.
const HANDOVER_MS = 8_000;

/** A predicate on hub:messageArrived payloads: a pulse of ROOM numbered n or more. */
const pulseFrom = (n) => (d) =>
  d.roomId === ROOM && d.message.content.systemAction === 'pulse' && d.message.content.systemData.n >= n;

/** A predicate on hub:messageArrived payloads: the pulse of ROOM numbered n. */
const pulseNumbered = (n) => (d) => pulseFrom(n)(d) && d.message.content.systemData.n === n;

/** The pulse numbers socket s received, in arrival order, from event index `from` on. */
function pulses(s, from = 0, to = s.received.length) {
  return s.received
    .slice(from, to)
    .filter((e) => e.name === 'hub:messageArrived' && pulseFrom(1)(e.data))
    .map((e) => e.data.message.content.systemData.n);
}

/** Resolves once s has received a pulse numbered n or more (after event index from). */
function pulseAtLeast(s, n, timeoutMs, from = 0) {
  return waitForEvent(s, 'hub:messageArrived', pulseFrom(n), timeoutMs, { after: from });
}

function assertConsecutive(ns, what) {
  for (let i = 1; i < ns.length; i++) {
    assert.equal(ns[i], ns[i - 1] + 1, `${what}: ${JSON.stringify(ns)}`);
  }
}

describe('scheduled actions on two nodes through Redis', { skip }, () => {
  let prefix;
  let a;
  let b;

  before(async () => {
    prefix = uniquePrefix();
    const dirs = {
      hubs: path.join(CLUSTER, 'hubs'),
      records: path.join(CLUSTER, 'records'),
      lib: path.join(CLUSTER, 'lib'),
      store: 'embedded',
    };
    const env = { HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR, HUBD_REDIS__PREFIX: prefix };
    a = await startDaemon({ ...dirs, env });
    b = await startDaemon({ ...dirs, env });
  });

  after(async () => {
    disconnectAll();
    await a?.close();
    await b?.close();
    if (prefix) deleteKeys(prefix);
  });

  async function join(daemon, userId) {
    const s = await connect(daemon.url, NSP, { token: makeToken({ userId, roleId: 'user' }) });
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOM });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return s;
  }

  test('a room with members on both nodes ticks once, then moves to the node left with members', async () => {
    // Node A alone first: it takes the room's lease.
    const onA = await join(a, 'ann');
    await pulseAtLeast(onA, 3);
    assert.equal(redis('EXISTS', `${prefix}lease:sched:beacon:${ROOM}`), '1', 'the lease key is in Redis');

    // Node B gets a member: its ticks find the lease taken. Each pulse
    // reaches both sockets once, numbered by A's counter without repeats.
    const onB = await join(b, 'bob');
    const first = pulses(onA).at(-1);
    await pulseAtLeast(onB, first + 12);
    await pulseAtLeast(onA, first + 12);
    const seenA = pulses(onA);
    const seenB = pulses(onB);
    assertConsecutive(seenA, 'pulses on A');
    assertConsecutive(seenB, 'pulses on B');
    assert.ok(seenB.length >= 10, `B saw ${seenB.length} pulses`);
    assert.deepEqual(seenB, seenA.slice(seenA.indexOf(seenB[0])), 'both sockets see the same pulses');

    // A's member leaves: A stops and releases the lease; B takes over with
    // its own counter, which starts at 1.
    const from = onB.received.length;
    const left = await emitWithAck(onA, 'hub:leave', { roomId: ROOM });
    assert.equal(left.ok, true, JSON.stringify(left));
    await waitForEvent(onB, 'hub:messageArrived', pulseNumbered(1), HANDOVER_MS, { after: from });
    const at = onB.received.findIndex((e, i) => i >= from && e.name === 'hub:messageArrived' && pulseNumbered(1)(e.data));
    await pulseAtLeast(onB, 10, 10_000, at);
    const fromA = pulses(onB, 0, at);
    const fromB = pulses(onB, at);
    assertConsecutive(fromA, 'pulses from A');
    assertConsecutive(fromB, 'pulses from B after the handover');
    assert.equal(fromB[0], 1);
    assert.ok(fromA.at(-1) > 10, `A ran the room until it left: ${JSON.stringify(fromA)}`);
    onA.disconnect();
    onB.disconnect();
  });
});
