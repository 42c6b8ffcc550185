// Presence, typing indicators and custom event directions on hub "ops"
// (toggles on) and hub "gate" (toggles off).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, eventsNamed, until, waitForEvent } from './lib/harness.mjs';
import { FROOMS, joinAs, PEOPLE, refusedWith, startFeatures, tokenOf } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

let hubd;
let rest;

before(async () => {
  hubd = await startFeatures();
  rest = new RestClient(hubd, 'ops');
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const ALICE = PEOPLE.alice.userId;
const GRACE_MS = 3000;

/** The presence entries of a room over REST. */
async function presence(room) {
  const res = await rest.get(`/rooms/${room}/presence`, { token: tokenOf('bob') });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.users;
}

/**
 * Watches the room's presence over REST for ms and asserts check on every
 * reading (a condition that must hold for a whole window).
 */
async function holdsFor(ms, room, check) {
  const end = Date.now() + ms;
  let readings = 0;
  await until(
    async () => {
      check(await presence(room));
      readings++;
      return Date.now() > end;
    },
    { timeoutMs: ms + 5000, intervalMs: 100, what: 'the watch window' },
  );
  assert.ok(readings > 3);
}

const onlineFor = (s, userId) => eventsNamed(s, 'hub:online', (d) => d.userId === userId).length;
const offlineFor = (s, userId) => eventsNamed(s, 'hub:offline', (d) => d.userId === userId).length;

describe('presence', () => {
  test('two sockets of one user: one member, online once, offline only after the last leaves and the grace', async () => {
    const room = FROOMS.room8;
    const { socket: bob } = await joinAs(hubd, 'ops', 'bob', room);
    const { socket: a1 } = await joinAs(hubd, 'ops', 'alice', room);
    await waitForEvent(bob, 'hub:online', (d) => d.userId === ALICE);
    const p = await waitForEvent(bob, 'hub:presence', (d) => d.event === 'online' && d.user?.id === ALICE);
    assert.equal(p.roomId, room);
    const { socket: a2 } = await joinAs(hubd, 'ops', 'alice', room, { transport: 'polling' });
    const users = await presence(room);
    const mine = users.filter((u) => u.userId === ALICE);
    assert.equal(mine.length, 1, JSON.stringify(users));
    assert.equal(mine[0].sockets, 2);
    assert.equal(users.length, 2, 'alice and bob');
    // a2's join did not announce alice again (bob's ack comes after it).
    await emitWithAck(bob, 'hub:join', { roomId: room });
    assert.equal(onlineFor(bob, ALICE), 1);

    a1.disconnect();
    await holdsFor(GRACE_MS + 500, room, (us) => {
      assert.equal(us.filter((u) => u.userId === ALICE).length, 1, 'alice stays present while a2 is connected');
    });
    assert.equal(offlineFor(bob, ALICE), 0);

    const t0 = Date.now();
    a2.disconnect();
    await waitForEvent(bob, 'hub:offline', (d) => d.userId === ALICE, GRACE_MS + 5000);
    const took = Date.now() - t0;
    assert.ok(took >= GRACE_MS - 300, `offline after ${took}ms, before the ${GRACE_MS}ms grace`);
    await waitForEvent(bob, 'hub:presence', (d) => d.event === 'offline' && d.user?.id === ALICE);
    assert.equal(offlineFor(bob, ALICE), 1);
    assert.ok(!(await presence(room)).some((u) => u.userId === ALICE));
  });

  test('reconnecting within the grace gives neither offline nor online', async () => {
    const room = FROOMS.room9;
    const { socket: bob } = await joinAs(hubd, 'ops', 'bob', room);
    const { socket: a1 } = await joinAs(hubd, 'ops', 'alice', room);
    await waitForEvent(bob, 'hub:online', (d) => d.userId === ALICE);
    a1.disconnect();
    await joinAs(hubd, 'ops', 'alice', room);
    await holdsFor(GRACE_MS + 500, room, (us) => {
      assert.ok(us.some((u) => u.userId === ALICE));
    });
    assert.equal(offlineFor(bob, ALICE), 0);
    assert.equal(onlineFor(bob, ALICE), 1);
  });

  test('away and back; leave announces left then offline at once', async () => {
    const room = FROOMS.room10;
    const { socket: bob } = await joinAs(hubd, 'ops', 'bob', room);
    const { socket: alice } = await joinAs(hubd, 'ops', 'alice', room);
    let ack = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'away' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(bob, 'hub:away', (d) => d.userId === ALICE && d.roomId === room);
    let users = await presence(room);
    assert.equal(users.find((u) => u.userId === ALICE)?.status, 'away', JSON.stringify(users));
    const mark = bob.received.length;
    ack = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'back' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(bob, 'hub:online', (d) => d.userId === ALICE, undefined, { after: mark });
    users = await presence(room);
    assert.equal(users.find((u) => u.userId === ALICE)?.status, 'online', JSON.stringify(users));

    const t0 = Date.now();
    ack = await emitWithAck(alice, 'hub:leave', { roomId: room });
    assert.equal(ack.ok, true);
    await waitForEvent(bob, 'hub:presence', (d) => d.event === 'left' && d.user?.id === ALICE);
    await waitForEvent(bob, 'hub:offline', (d) => d.userId === ALICE);
    assert.ok(Date.now() - t0 < GRACE_MS, 'leave is not delayed by the disconnect grace');
  });
});

describe('typing indicators and events', () => {
  const room = FROOMS.room11;
  let alice;
  let bob;

  before(async () => {
    ({ socket: alice } = await joinAs(hubd, 'ops', 'alice', room));
    ({ socket: bob } = await joinAs(hubd, 'ops', 'bob', room));
  });

  test('typing reaches the others only, repeats are throttled, the server stops it after ~6 s', async () => {
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const ack = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'typing' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    await waitForEvent(bob, 'hub:typing', (d) => d.userId === ALICE && d.roomId === room);
    // Anything for alice herself would come before this ack.
    await emitWithAck(alice, 'hub:join', { roomId: room });
    assert.equal(eventsNamed(alice, 'hub:typing').length, 0, 'the sender gets no hub:typing');
    const stop = await waitForEvent(bob, 'hub:stopTyping', (d) => d.userId === ALICE, 15_000);
    const took = Date.now() - t0;
    assert.equal(stop.roomId, room);
    assert.ok(took >= 5500 && took < 11_000, `automatic stop after ${took}ms, want about 6000`);
    assert.equal(eventsNamed(bob, 'hub:typing', (d) => d.userId === ALICE).length, 1, 'repeats within 2 s are one indicator');
  });

  test('leaving stops the indicator', async () => {
    const { socket: carol } = await joinAs(hubd, 'ops', 'carol', room);
    const mark = bob.received.length;
    await emitWithAck(carol, 'hub:event', { roomId: room, event: 'typing' });
    await waitForEvent(bob, 'hub:typing', (d) => d.userId === PEOPLE.carol.userId, undefined, { after: mark });
    const t0 = Date.now();
    await emitWithAck(carol, 'hub:leave', { roomId: room });
    await waitForEvent(bob, 'hub:stopTyping', (d) => d.userId === PEOPLE.carol.userId, undefined, { after: mark });
    assert.ok(Date.now() - t0 < 3000, 'stopped by the leave, not by the timeout');
  });

  test('custom events: clientToRoom from a client reaches the room, serverToRoom is UNKNOWN_EVENT', async () => {
    const ack = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'nudge', data: { n: 1 } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await waitForEvent(bob, 'nudge', (d) => d.roomId === room);
    assert.equal(ev.userId, ALICE);
    assert.deepEqual(ev.data, { n: 1 });
    await waitForEvent(alice, 'nudge', (d) => d.roomId === room);
    await refusedWith(alice, 'hub:event', { roomId: room, event: 'announce', data: {} }, 'UNKNOWN_EVENT');
    await emitWithAck(bob, 'hub:join', { roomId: room });
    assert.equal(eventsNamed(bob, 'announce').length, 0);
  });

  test('a service posts a serverToRoom event over REST', async () => {
    const res = await rest.post(`/rooms/${room}/events`, { event: 'announce', data: 'hello room' }, { token: tokenOf('service') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const ev = await waitForEvent(bob, 'announce', (d) => d.roomId === room);
    assert.equal(ev.data, 'hello room');
  });

  test('toggles off: typing is UNKNOWN_EVENT and nothing is broadcast', async () => {
    const { socket: ga } = await joinAs(hubd, 'gate', 'alice', FROOMS.general);
    const { socket: gb } = await joinAs(hubd, 'gate', 'bob', FROOMS.general);
    await refusedWith(ga, 'hub:event', { roomId: FROOMS.general, event: 'typing' }, 'UNKNOWN_EVENT');
    await refusedWith(ga, 'hub:event', { roomId: FROOMS.general, event: 'away' }, 'UNKNOWN_EVENT');
    await emitWithAck(gb, 'hub:join', { roomId: FROOMS.general });
    assert.equal(eventsNamed(gb, 'hub:typing').length, 0);
    assert.equal(eventsNamed(gb, 'hub:away').length, 0);
  });

  test('every REST response matches /ops/openapi.json', async () => {
    await rest.validateExchanges();
  });
});

