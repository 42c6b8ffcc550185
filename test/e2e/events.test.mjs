// hub:event: the standard events a hub enables and a custom clientToRoom
// event, over every transport mode.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  startDaemon,
  TRANSPORT_NAMES,
  waitForEvent,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor, USERS } from './lib/fixtures.mjs';

let hubd;

before(async () => {
  hubd = await startDaemon();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

async function joined(user, transport, nsp = NSP.chat) {
  const s = await connect(hubd.url, nsp, { transport, token: tokenFor(user) });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

for (const transport of TRANSPORT_NAMES) {
  describe(`events over ${transport}`, () => {
    let alice;
    let bob;

    before(async () => {
      alice = await joined('alice', transport);
      bob = await joined('bob', transport);
    });

    after(() => {
      alice?.disconnect();
      bob?.disconnect();
    });

    /** A round trip on socket: whatever was sent to it before has arrived. */
    async function sync(socket) {
      const ack = await emitWithAck(socket, 'hub:join', { roomId: ROOMS.random });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }

    const standard = [
      { event: 'typing', emitted: 'hub:typing', data: undefined, extra: {} },
      { event: 'stopTyping', emitted: 'hub:stopTyping', data: undefined, extra: {} },
      {
        event: 'messageRead',
        emitted: 'hub:messageRead',
        data: { lastReadTimestamp: '2026-11-27T10:00:00.000Z' },
        extra: { lastReadTimestamp: '2026-11-27T10:00:00.000Z' },
      },
      {
        // A delivery receipt is stored, so it must name a message of the room.
        event: 'messageDelivered',
        emitted: 'hub:messageDelivered',
        prepare: async () => {
          const sent = await emitWithAck(bob, 'hub:send', {
            roomId: ROOMS.random,
            messageType: 'text',
            content: { body: 'deliver me' },
          });
          assert.equal(sent.ok, true, JSON.stringify(sent));
          return { data: { messageId: sent.message.id }, extra: { messageId: sent.message.id } };
        },
      },
    ];
    for (const s of standard) {
      test(`${s.event} reaches the others as ${s.emitted}, not the sender`, async () => {
        const { data, extra } = s.prepare ? await s.prepare() : s;
        const mark = alice.received.length;
        const ack = await emitWithAck(alice, 'hub:event', { roomId: ROOMS.random, event: s.event, data });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        const got = await waitForEvent(bob, s.emitted, (d) => d.roomId === ROOMS.random && d.userId === USERS.alice.userId);
        assert.deepEqual(got, { roomId: ROOMS.random, userId: USERS.alice.userId, ...extra });
        await sync(alice);
        assert.equal(alice.received.slice(mark).filter((e) => e.name === s.emitted).length, 0);
      });
    }

    test('custom clientToRoom event reaches the whole room with its data', async () => {
      const data = { strength: 3, note: 'wake up' };
      const ack = await emitWithAck(bob, 'hub:event', { roomId: ROOMS.random, event: 'nudge', data });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      for (const s of [alice, bob]) {
        const got = await waitForEvent(s, 'nudge', (d) => d.userId === USERS.bob.userId && d.data?.note === 'wake up');
        assert.deepEqual(got, { roomId: ROOMS.random, userId: USERS.bob.userId, data });
      }
    });

    const refused = [
      { name: 'messageRead without a timestamp', payload: { event: 'messageRead', data: {} }, code: 'BAD_REQUEST' },
      { name: 'messageDelivered without messageId', payload: { event: 'messageDelivered', data: {} }, code: 'BAD_REQUEST' },
      {
        name: 'messageDelivered for a message not in the room',
        payload: { event: 'messageDelivered', data: { messageId: 'no-such-message' } },
        code: 'NOT_FOUND',
      },
      { name: 'an event the hub does not define', payload: { event: 'teleport' }, code: 'UNKNOWN_EVENT' },
      { name: 'an event without a name', payload: {}, code: 'BAD_REQUEST' },
    ];
    for (const r of refused) {
      test(`${r.name} -> ${r.code}, nothing broadcast`, async () => {
        const mark = bob.received.length;
        const ack = await emitWithAck(alice, 'hub:event', { roomId: ROOMS.random, ...r.payload });
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error.code, r.code);
        await sync(bob);
        const leaked = bob.received.slice(mark).filter((e) => e.name !== 'hub:joined' && e.name !== 'hub:history');
        assert.deepEqual(leaked.map((e) => e.name), []);
      });
    }

    test('typing in a hub that does not enable it -> UNKNOWN_EVENT', async () => {
      const s = await joined('alice', transport, NSP.lobby);
      const ack = await emitWithAck(s, 'hub:event', { roomId: ROOMS.random, event: 'typing' });
      assert.equal(ack.ok, false, JSON.stringify(ack));
      assert.equal(ack.error.code, 'UNKNOWN_EVENT');
      s.disconnect();
    });

    test('event in a room not joined -> NOT_JOINED', async () => {
      const ack = await emitWithAck(alice, 'hub:event', { roomId: ROOMS.general, event: 'typing' });
      assert.equal(ack.ok, false, JSON.stringify(ack));
      assert.equal(ack.error.code, 'NOT_JOINED');
      assert.equal(eventsNamed(alice, 'hub:error', (d) => d.code === 'NOT_JOINED' && d.event === 'hub:event').length >= 1, true);
    });
  });
}
