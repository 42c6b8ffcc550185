// Messaging between two clients: every built-in type, the custom type,
// validation, idempotent retries, NOT_JOINED and leave, over every
// transport mode.

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
import { BUILTIN_CONTENT, NSP, ROOMS, TASK_CARD_FULL, tokenFor, USERS } from './lib/fixtures.mjs';

let hubd;

before(async () => {
  hubd = await startDaemon();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Connects user over transport and joins roomId in the chat hub. */
async function joined(user, transport, roomId = ROOMS.general, nsp = NSP.chat) {
  const s = await connect(hubd.url, nsp, { transport, token: tokenFor(user) });
  const ack = await emitWithAck(s, 'hub:join', { roomId });
  assert.equal(ack.ok, true, `${user} join: ${JSON.stringify(ack)}`);
  await waitForEvent(s, 'hub:joined', (d) => d.roomId === roomId);
  return s;
}

/**
 * Emits event with payload, asserts a failed ack with code and a matching
 * hub:error emitted after it. Returns the ack's error.
 */
async function refused(socket, event, payload, code) {
  const mark = socket.received.length;
  const ack = await emitWithAck(socket, event, payload);
  assert.equal(ack.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, code, JSON.stringify(ack.error));
  assert.equal(typeof ack.error.message, 'string');
  const err = await waitForEvent(socket, 'hub:error', (d) => d.code === code && d.event === event, undefined, {
    after: mark,
  });
  assert.equal(err.error, ack.error.message);
  if (payload && typeof payload === 'object' && payload.roomId) assert.equal(err.roomId, payload.roomId);
  return ack.error;
}

/** Fields named in INVALID_MESSAGE details, without a "content." prefix. */
function detailFields(error) {
  assert.ok(Array.isArray(error.details), `details must be an array: ${JSON.stringify(error)}`);
  for (const d of error.details) {
    assert.equal(typeof d.field, 'string', JSON.stringify(d));
    assert.equal(typeof d.message, 'string', JSON.stringify(d));
  }
  return new Set(error.details.map((d) => d.field.replace(/^content\./, '')));
}

for (const transport of TRANSPORT_NAMES) {
  describe(`messages over ${transport}`, () => {
    let alice;
    let bob;
    let lastSeq = -Infinity;

    before(async () => {
      alice = await joined('alice', transport);
      bob = await joined('bob', transport);
    });

    after(() => {
      alice?.disconnect();
      bob?.disconnect();
    });

    /**
     * alice sends; checks the ack, bob's and alice's hub:messageArrived,
     * the message shape and the room sequence. Returns the message.
     */
    async function sendAndDeliver(payload) {
      const ack = await emitWithAck(alice, 'hub:send', { roomId: ROOMS.general, ...payload });
      assert.equal(ack.ok, true, `send ${payload.messageType}: ${JSON.stringify(ack)}`);
      const m = ack.message;
      assert.equal(typeof m.id, 'string');
      assert.notEqual(m.id, '');
      assert.equal(m.roomId, ROOMS.general);
      assert.equal(m.senderId, USERS.alice.userId);
      assert.equal(m.messageType, payload.messageType);
      assert.equal(m.status, 'published');
      assert.match(m.timestamp, ISO_8601);
      assert.ok(!Number.isNaN(Date.parse(m.timestamp)));
      assert.equal(typeof m.seq, 'number');
      assert.ok(m.seq > lastSeq, `seq ${m.seq} must exceed ${lastSeq}`);
      lastSeq = m.seq;

      const atBob = await waitForEvent(bob, 'hub:messageArrived', (d) => d.message?.id === m.id);
      assert.equal(atBob.roomId, ROOMS.general);
      assert.deepEqual(atBob.sender, { id: USERS.alice.userId });
      assert.deepEqual(atBob.message, m);

      const atAlice = await waitForEvent(alice, 'hub:messageArrived', (d) => d.message?.id === m.id);
      assert.deepEqual(atAlice.message, m);
      return m;
    }

    test('every built-in type but system reaches the other client with its exact content', async () => {
      for (const [messageType, content] of Object.entries(BUILTIN_CONTENT)) {
        const m = await sendAndDeliver({ messageType, content });
        assert.deepEqual(m.content, content, messageType);
      }
    });

    test('custom type with every field type reaches the other client with its exact content', async () => {
      const m = await sendAndDeliver({ messageType: 'taskCard', content: TASK_CARD_FULL });
      assert.deepEqual(m.content, TASK_CARD_FULL);
    });

    test('defaultValue fills the fields left out, coerced to their type', async () => {
      const m = await sendAndDeliver({ messageType: 'taskCard', content: { title: 'Defaults', points: 1 } });
      assert.equal(m.content.title, 'Defaults');
      assert.equal(m.content.points, 1);
      assert.equal(m.content.estimate, 1.5);
      assert.equal(m.content.urgent, false);
      assert.equal(m.content.status, 'todo');
      for (const k of ['notes', 'assigneeId', 'dueAt', 'meta']) {
        assert.ok(m.content[k] === undefined || m.content[k] === null, `${k} has no default`);
      }
    });

    test('replyTo and forwarded travel with the message', async () => {
      const first = await sendAndDeliver({ messageType: 'text', content: { body: 'original' } });
      const replyTo = { id: first.id, preview: 'original' };
      const m = await sendAndDeliver({
        messageType: 'text',
        content: { body: 'a reply' },
        replyTo,
        forwarded: true,
      });
      assert.deepEqual(m.replyTo, replyTo);
      assert.equal(m.forwarded, true);
    });

    test('system from a client -> TYPE_NOT_ALLOWED', async () => {
      await refused(alice, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'system',
        content: { systemAction: 'memberJoined', systemData: {} },
      }, 'TYPE_NOT_ALLOWED');
    });

    test('a type the hub does not define -> TYPE_NOT_ALLOWED', async () => {
      await refused(alice, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'hologram',
        content: { body: 'x' },
      }, 'TYPE_NOT_ALLOWED');
    });

    test('a built-in type not enabled in the hub -> TYPE_NOT_ALLOWED', async () => {
      const s = await joined('alice', transport, ROOMS.general, NSP.lobby);
      await refused(s, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'image',
        content: BUILTIN_CONTENT.image,
      }, 'TYPE_NOT_ALLOWED');
      const ok = await emitWithAck(s, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: 'hi' } });
      assert.equal(ok.ok, true, JSON.stringify(ok));
      s.disconnect();
    });

    const invalid = [
      {
        name: 'every custom field of the wrong type or value',
        messageType: 'taskCard',
        content: {
          title: 'x'.repeat(300),
          notes: 42,
          points: 'many',
          estimate: 'abc',
          urgent: 'yes',
          assigneeId: 'not an id',
          dueAt: 'yesterday',
          status: 'blocked',
          meta: { ok: true },
        },
        fields: ['title', 'notes', 'points', 'estimate', 'urgent', 'assigneeId', 'dueAt', 'status'],
      },
      {
        name: 'required custom fields missing',
        messageType: 'taskCard',
        content: { notes: 'no title, no points' },
        fields: ['title', 'points'],
      },
      {
        name: 'integer field with a fraction',
        messageType: 'taskCard',
        content: { title: 't', points: 2.5 },
        fields: ['points'],
      },
      {
        name: 'text without body',
        messageType: 'text',
        content: {},
        fields: ['body'],
      },
    ];
    for (const c of invalid) {
      test(`${c.name} -> INVALID_MESSAGE listing each bad field`, async () => {
        const error = await refused(
          alice,
          'hub:send',
          { roomId: ROOMS.general, messageType: c.messageType, content: c.content },
          'INVALID_MESSAGE',
        );
        const fields = detailFields(error);
        for (const f of c.fields) assert.ok(fields.has(f), `details lack ${f}: ${JSON.stringify(error.details)}`);
        assert.equal(fields.size, c.fields.length, `unexpected details: ${JSON.stringify(error.details)}`);
      });
    }

    test('content over maxMessageSize -> MESSAGE_TOO_LARGE, connection kept', async () => {
      await refused(alice, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'text',
        content: { body: 'y'.repeat(5000) },
      }, 'MESSAGE_TOO_LARGE');
      assert.equal(alice.connected, true);
    });

    test('payload without roomId -> BAD_REQUEST', async () => {
      await refused(alice, 'hub:send', { messageType: 'text', content: { body: 'where?' } }, 'BAD_REQUEST');
    });

    test('clientMessageId retry returns the first message and delivers once', async () => {
      const clientMessageId = `retry-${transport}-${Date.now()}`;
      const payload = { roomId: ROOMS.general, messageType: 'text', content: { body: 'once' }, clientMessageId };
      const first = await emitWithAck(alice, 'hub:send', payload);
      assert.equal(first.ok, true, JSON.stringify(first));
      assert.equal(first.message.clientMessageId, clientMessageId);
      const second = await emitWithAck(alice, 'hub:send', payload);
      assert.equal(second.ok, true, JSON.stringify(second));
      assert.equal(second.message.id, first.message.id);
      assert.equal(second.message.seq, first.message.seq);

      // Messages of a room are delivered in order: once bob has the marker
      // sent after the retry, a duplicate would already be there.
      const marker = await sendAndDeliver({ messageType: 'text', content: { body: 'marker' } });
      assert.ok(marker.seq > first.message.seq);
      const copies = eventsNamed(bob, 'hub:messageArrived', (d) => d.message?.clientMessageId === clientMessageId);
      assert.equal(copies.length, 1);
      assert.equal(copies[0].message.id, first.message.id);
    });

    test('send to a room not joined -> NOT_JOINED', async () => {
      await refused(alice, 'hub:send', {
        roomId: ROOMS.random,
        messageType: 'text',
        content: { body: 'not there' },
      }, 'NOT_JOINED');
    });

    test('leave -> hub:left, then no more messages from the room', async () => {
      const ack = await emitWithAck(alice, 'hub:leave', { roomId: ROOMS.general });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await waitForEvent(alice, 'hub:left', (d) => d.roomId === ROOMS.general);

      const sent = await emitWithAck(bob, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'text',
        content: { body: 'alice is gone' },
      });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      await waitForEvent(bob, 'hub:messageArrived', (d) => d.message?.id === sent.message.id);
      // A round trip on alice's connection: anything broadcast to her
      // before it would have arrived by now.
      const rejoinOther = await emitWithAck(alice, 'hub:join', { roomId: ROOMS.random });
      assert.equal(rejoinOther.ok, true, JSON.stringify(rejoinOther));
      assert.equal(eventsNamed(alice, 'hub:messageArrived', (d) => d.message?.id === sent.message.id).length, 0);

      await refused(alice, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'text',
        content: { body: 'still here?' },
      }, 'NOT_JOINED');
    });
  });
}
