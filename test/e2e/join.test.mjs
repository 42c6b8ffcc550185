// hub:join: ack shape, hub:joined, hub:history and the layered
// authorization failures, over every transport mode.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, startDaemon, TRANSPORT_NAMES, waitForEvent } from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

let hubd;

before(async () => {
  hubd = await startDaemon();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const PERMISSION_KEYS = ['canRead', 'canSend'];

for (const transport of TRANSPORT_NAMES) {
  describe(`join over ${transport}`, () => {
    test('member joins: ack, hub:joined, hub:history', async () => {
      const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('alice') });
      const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(ack.roomId, ROOMS.general);
      assert.equal(ack.hubRole, 'member');
      assert.equal(typeof ack.permissions, 'object');
      for (const k of PERMISSION_KEYS) assert.equal(ack.permissions[k], true, `permissions.${k}`);
      assert.equal(ack.silenced, false);

      const joined = await waitForEvent(s, 'hub:joined', (d) => d.roomId === ROOMS.general);
      assert.equal(joined.hubRole, 'member');
      assert.deepEqual(joined.permissions, ack.permissions);

      const history = await waitForEvent(s, 'hub:history', (d) => d.roomId === ROOMS.general);
      assert.ok(Array.isArray(history.messages), 'history.messages is an array');

      // hub:joined comes before hub:history
      const names = s.received.map((e) => e.name);
      assert.ok(names.indexOf('hub:joined') < names.indexOf('hub:history'), names.join(','));
      assert.equal(eventsNamedCount(s, 'hub:error'), 0);
      s.disconnect();
    });

    test('absoluteRoles user joins any eligible room with the system role', async () => {
      const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('admin') });
      const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(ack.hubRole, 'system');
      s.disconnect();
    });

    const failures = [
      { name: 'unknown room', user: 'alice', roomId: ROOMS.missing, code: 'ROOM_NOT_FOUND' },
      { name: 'room with eligibility false', user: 'alice', roomId: ROOMS.archive, code: 'ROOM_NOT_ELIGIBLE' },
      { name: 'eligibility false beats absoluteRoles', user: 'admin', roomId: ROOMS.archive, code: 'ROOM_NOT_ELIGIBLE' },
      { name: 'user without membership', user: 'mallory', roomId: ROOMS.general, code: 'FORBIDDEN' },
      { name: 'membership whose condition fails', user: 'carol', roomId: ROOMS.general, code: 'FORBIDDEN' },
    ];
    for (const f of failures) {
      test(`${f.name} -> ${f.code} ack and hub:error`, async () => {
        const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor(f.user) });
        const ack = await emitWithAck(s, 'hub:join', { roomId: f.roomId });
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error.code, f.code);
        assert.equal(typeof ack.error.message, 'string');
        assert.notEqual(ack.error.message, '');

        const err = await waitForEvent(s, 'hub:error', (d) => d.code === f.code);
        assert.equal(err.event, 'hub:join');
        assert.equal(err.error, ack.error.message);
        assert.equal(err.roomId, f.roomId);

        assert.equal(eventsNamedCount(s, 'hub:joined'), 0);
        // the refused user is not in the room: sending is refused
        const send = await emitWithAck(s, 'hub:send', {
          roomId: f.roomId,
          messageType: 'text',
          content: { body: 'sneaking in' },
        });
        assert.equal(send.ok, false);
        s.disconnect();
      });
    }

    const badRequests = [
      { name: 'payload is not an object', payload: 'general' },
      { name: 'roomId missing', payload: {} },
    ];
    for (const b of badRequests) {
      test(`join with ${b.name} -> BAD_REQUEST`, async () => {
        const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('alice') });
        const ack = await emitWithAck(s, 'hub:join', b.payload);
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error.code, 'BAD_REQUEST');
        await waitForEvent(s, 'hub:error', (d) => d.code === 'BAD_REQUEST' && d.event === 'hub:join');
        s.disconnect();
      });
    }

    test('unknown event -> UNKNOWN_EVENT', async () => {
      const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('alice') });
      const ack = await emitWithAck(s, 'hub:teleport', { roomId: ROOMS.general });
      assert.equal(ack.ok, false, JSON.stringify(ack));
      assert.equal(ack.error.code, 'UNKNOWN_EVENT');
      await waitForEvent(s, 'hub:error', (d) => d.code === 'UNKNOWN_EVENT');
      s.disconnect();
    });
  });
}

function eventsNamedCount(socket, name) {
  return socket.received.filter((e) => e.name === name).length;
}
