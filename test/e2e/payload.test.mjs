// A client sending more than the Engine.IO maxPayload is disconnected;
// the others in the room keep receiving.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  disconnectAll,
  emitWithAck,
  engineHandshake,
  startDaemon,
  TRANSPORT_NAMES,
  waitForDisconnect,
  waitForEvent,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

let hubd;
let maxPayload;

before(async () => {
  hubd = await startDaemon();
  const open = await engineHandshake(hubd.url);
  maxPayload = open.maxPayload;
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

async function joined(user, transport) {
  const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor(user) });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.payload });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

test('the handshake announces a bounded maxPayload', () => {
  assert.equal(typeof maxPayload, 'number');
  assert.ok(maxPayload > 0 && maxPayload <= 16 * 1024 * 1024, `maxPayload ${maxPayload}`);
});

for (const transport of TRANSPORT_NAMES) {
  describe(`oversized payload over ${transport}`, () => {
    test('the sender is disconnected, the room goes on', async () => {
      const offender = await joined('alice', transport);
      const listener = await joined('bob', 'websocket');
      const talker = await joined('alice', 'websocket');

      offender.emit('hub:send', {
        roomId: ROOMS.payload,
        messageType: 'text',
        content: { body: 'z'.repeat(maxPayload + 1024) },
      });
      const reason = await waitForDisconnect(offender);
      assert.notEqual(reason, 'io client disconnect', 'the server ended the connection');

      assert.equal(listener.connected, true);
      const ack = await emitWithAck(talker, 'hub:send', {
        roomId: ROOMS.payload,
        messageType: 'text',
        content: { body: `after the flood over ${transport}` },
      });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const got = await waitForEvent(listener, 'hub:messageArrived', (d) => d.message?.id === ack.message.id);
      assert.equal(got.message.content.body, `after the flood over ${transport}`);
      // Nothing of the oversized payload was stored or broadcast.
      assert.ok(
        !listener.received.some((e) => e.name === 'hub:messageArrived' && e.data.message?.content?.body?.length > maxPayload),
      );
      listener.disconnect();
      talker.disconnect();
    });
  });
}
