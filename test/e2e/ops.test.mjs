// Message operations on hub "ops": history paging, recovery after a
// disconnect, edit, delete, reactions, replyTo checks, read and delivery
// receipts, and the same operations over REST (validated against the
// daemon's OpenAPI document). Runs on the store named by HUBD_E2E_STORE.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, E2E_STORE, emitWithAck, until, waitForEvent } from './lib/harness.mjs';
import { FROOMS, joinAs, PEOPLE, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';
import { NetDrop } from './lib/netdrop.mjs';
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

const ids = (messages) => messages.map((m) => m.id);

describe(`message operations (${E2E_STORE} store)`, () => {
  test('hub:loadHistory pages walk the room exactly once, in order', async () => {
    const room = FROOMS.room1;
    const { socket: alice } = await joinAs(hubd, 'ops', 'alice', room);
    const sent = [];
    for (let i = 0; i < 23; i++) sent.push(await sendText(alice, room, `page ${i}`));
    const pages = [];
    let before;
    for (;;) {
      const ack = await emitWithAck(alice, 'hub:loadHistory', { roomId: room, limit: 5, ...(before ? { before } : {}) });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.ok(ack.messages.length <= 5);
      if (ack.messages.length === 0) break;
      const seqs = ack.messages.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'a page is oldest first');
      pages.unshift(...ack.messages);
      before = ack.messages[0].id;
    }
    assert.deepEqual(ids(pages), ids(sent));
  });

  for (const transport of ['websocket', 'polling']) {
    test(`recovery over ${transport}: rejoin with since has every message once, in order`, async () => {
      const room = transport === 'websocket' ? FROOMS.room2 : FROOMS.room3;
      const { socket: alice } = await joinAs(hubd, 'ops', 'alice', room, { transport });
      let { socket: bob } = await joinAs(hubd, 'ops', 'bob', room, { transport });
      const sent = [];
      for (let i = 0; i < 4; i++) sent.push(await sendText(alice, room, `before ${i}`));
      await waitForEvent(bob, 'hub:messageArrived', (d) => d.message.id === sent[3].id);
      // bob drops while alice keeps sending.
      const sending = (async () => {
        for (let i = 0; i < 8; i++) sent.push(await sendText(alice, room, `during ${i}`));
      })();
      await new Promise((r) => setImmediate(r));
      bob.disconnect();
      const seen = bob.received.filter((e) => e.name === 'hub:messageArrived').map((e) => e.data.message);
      await sending;
      for (let i = 0; i < 3; i++) sent.push(await sendText(alice, room, `after ${i}`));
      const last = seen[seen.length - 1];
      ({ socket: bob } = await joinAs(hubd, 'ops', 'bob', room, { transport, since: last.id }));
      const hist = await waitForEvent(bob, 'hub:history', (d) => d.roomId === room);
      const all = [...seen, ...hist.messages];
      assert.deepEqual(ids(all), ids(sent), 'every message exactly once, in order');
    });
  }

  describe('edit, delete, react, replyTo', () => {
    const room = FROOMS.room4;
    let alice;
    let bob;
    let mod;

    before(async () => {
      ({ socket: alice } = await joinAs(hubd, 'ops', 'alice', room));
      ({ socket: bob } = await joinAs(hubd, 'ops', 'bob', room));
      ({ socket: mod } = await joinAs(hubd, 'ops', 'frank', room, { claims: { roleId: 'mod' } }));
    });

    test('edit own message broadcasts hub:messageEdited', async () => {
      const m = await sendText(alice, room, 'first draft');
      const ack = await emitWithAck(alice, 'hub:edit', { roomId: room, messageId: m.id, content: { body: 'second draft' } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.deepEqual(ack.message.content, { body: 'second draft' });
      assert.equal(ack.message.id, m.id);
      assert.equal(typeof ack.message.editedAt, 'string');
      const ev = await waitForEvent(bob, 'hub:messageEdited', (d) => d.message.id === m.id);
      assert.equal(ev.roomId, room);
      assert.deepEqual(ev.message.content, { body: 'second draft' });
    });

    test("editing someone else's message is FORBIDDEN, bad content INVALID_MESSAGE", async () => {
      const m = await sendText(alice, room, 'mine');
      await refusedWith(bob, 'hub:edit', { roomId: room, messageId: m.id, content: { body: 'yours now' } }, 'FORBIDDEN');
      const err = await refusedWith(alice, 'hub:edit', { roomId: room, messageId: m.id, content: { body: 42 } }, 'INVALID_MESSAGE');
      assert.ok(err.details.some((d) => d.field.replace(/^content\./, '') === 'body'), JSON.stringify(err));
    });

    test('delete own, or any with canDeleteAny; deleted messages leave history', async () => {
      const a = await sendText(alice, room, 'delete me');
      const b = await sendText(bob, room, 'moderator deletes me');
      await refusedWith(bob, 'hub:delete', { roomId: room, messageId: a.id }, 'FORBIDDEN');
      let ack = await emitWithAck(alice, 'hub:delete', { roomId: room, messageId: a.id });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      let ev = await waitForEvent(bob, 'hub:messageDeleted', (d) => d.messageId === a.id);
      assert.equal(ev.deletedBy, PEOPLE.alice.userId);
      ack = await emitWithAck(mod, 'hub:delete', { roomId: room, messageId: b.id });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      ev = await waitForEvent(alice, 'hub:messageDeleted', (d) => d.messageId === b.id);
      assert.equal(ev.roomId, room);
      const hist = await emitWithAck(alice, 'hub:loadHistory', { roomId: room, limit: 200 });
      assert.ok(!ids(hist.messages).includes(a.id) && !ids(hist.messages).includes(b.id), 'deleted messages are not in history');
    });

    test('react toggles: add then remove, each broadcast as hub:reaction', async () => {
      const m = await sendText(alice, room, 'react to me');
      let ack = await emitWithAck(bob, 'hub:react', { roomId: room, messageId: m.id, emoji: '👍' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      let ev = await waitForEvent(alice, 'hub:reaction', (d) => d.messageId === m.id && d.reaction.length === 1);
      assert.equal(ev.reaction[0].emoji, '👍');
      assert.equal(ev.reaction[0].userId, PEOPLE.bob.userId);
      assert.equal(ev.emoji, '👍');
      ack = await emitWithAck(bob, 'hub:react', { roomId: room, messageId: m.id, emoji: '👍' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      ev = await waitForEvent(alice, 'hub:reaction', (d) => d.messageId === m.id && d.reaction.length === 0);
      assert.deepEqual(ev.reaction, []);
    });

    test('replyTo a message of another room is INVALID_MESSAGE', async () => {
      const { socket: other } = await joinAs(hubd, 'ops', 'alice', FROOMS.room5);
      const foreign = await sendText(other, FROOMS.room5, 'elsewhere');
      const err = await refusedWith(
        alice,
        'hub:send',
        { roomId: room, messageType: 'text', content: { body: 're' }, replyTo: { id: foreign.id } },
        'INVALID_MESSAGE',
      );
      assert.ok(err.details.some((d) => d.field === 'replyTo'), JSON.stringify(err));
      const local = await sendText(alice, room, 'here');
      const reply = await sendText(bob, room, 're: here', { replyTo: { id: local.id } });
      assert.equal(reply.replyTo.id, local.id);
    });
  });

  describe('read and delivery receipts', () => {
    const room = FROOMS.room6;
    let alice;
    let bob;

    before(async () => {
      ({ socket: alice } = await joinAs(hubd, 'ops', 'alice', room));
      ({ socket: bob } = await joinAs(hubd, 'ops', 'bob', room));
    });

    test('three unread for the other user, zero after messageRead; receipts list it', async () => {
      const sent = [];
      for (let i = 0; i < 3; i++) sent.push(await sendText(alice, room, `unread ${i}`));
      let res = await rest.get(`/rooms/${room}/unread`, { token: tokenOf('bob') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.unread, 3);
      const lastReadTimestamp = sent[2].timestamp;
      const ack = await emitWithAck(bob, 'hub:event', { roomId: room, event: 'messageRead', data: { lastReadTimestamp } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const ev = await waitForEvent(alice, 'hub:messageRead', (d) => d.userId === PEOPLE.bob.userId);
      assert.equal(ev.roomId, room);
      assert.equal(ev.lastReadTimestamp, lastReadTimestamp);
      res = await rest.get(`/rooms/${room}/receipts`, { token: tokenOf('alice') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const mine = res.body.receipts.find((r) => r.userId === PEOPLE.bob.userId);
      assert.ok(mine, JSON.stringify(res.body));
      assert.equal(Date.parse(mine.lastReadTimestamp), Date.parse(lastReadTimestamp));
      res = await rest.get(`/rooms/${room}/unread`, { token: tokenOf('bob') });
      assert.equal(res.body.unread, 0, JSON.stringify(res.body));
    });

    test('messageDelivered reaches the others', async () => {
      const m = await sendText(alice, room, 'delivered?');
      const ack = await emitWithAck(bob, 'hub:event', { roomId: room, event: 'messageDelivered', data: { messageId: m.id } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const ev = await waitForEvent(alice, 'hub:messageDelivered', (d) => d.messageId === m.id);
      assert.equal(ev.userId, PEOPLE.bob.userId);
    });
  });

  describe('REST', () => {
    const room = FROOMS.room7;
    let watcher;

    before(async () => {
      ({ socket: watcher } = await joinAs(hubd, 'ops', 'carol', room));
    });

    test('send, list, get, edit, react, delete', async () => {
      const alice = tokenOf('alice');
      let res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'rest 1' }, clientMessageId: 'r-1' }, { token: alice });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const m = res.body.message;
      await waitForEvent(watcher, 'hub:messageArrived', (d) => d.message.id === m.id);
      res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'rest 1' }, clientMessageId: 'r-1' }, { token: alice });
      assert.equal(res.status, 201);
      assert.equal(res.body.message.id, m.id, 'a retried clientMessageId returns the first message');
      res = await rest.get(`/rooms/${room}/messages?limit=10`, { token: alice });
      assert.equal(res.status, 200);
      assert.deepEqual(ids(res.body.messages), [m.id]);
      res = await rest.get(`/messages/${m.id}`, { token: tokenOf('bob') });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.message.content, { body: 'rest 1' });
      res = await rest.patch(`/messages/${m.id}`, { content: { body: 'rest 1 edited' } }, { token: tokenOf('bob') });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'FORBIDDEN');
      res = await rest.patch(`/messages/${m.id}`, { content: { body: 'rest 1 edited' } }, { token: alice });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await waitForEvent(watcher, 'hub:messageEdited', (d) => d.message.id === m.id);
      res = await rest.post(`/messages/${m.id}/reactions`, { emoji: '🎉' }, { token: tokenOf('bob') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.message.reaction.length, 1);
      res = await rest.delete(`/messages/${m.id}`, { token: alice });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await waitForEvent(watcher, 'hub:messageDeleted', (d) => d.messageId === m.id);
      res = await rest.get(`/rooms/${room}/messages`, { token: alice });
      assert.deepEqual(res.body.messages, []);
      res = await rest.get(`/messages/${m.id}`, { token: alice, query: true });
      assert.ok([200, 404].includes(res.status));
    });

    test('server events need a service token', async () => {
      let res = await rest.post(`/rooms/${room}/events`, { event: 'announce', data: { text: 'doors close' } }, { token: tokenOf('alice') });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'FORBIDDEN');
      res = await rest.post(`/rooms/${room}/events`, { event: 'announce', data: { text: 'doors close' } }, { token: tokenOf('service') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ev = await waitForEvent(watcher, 'announce', (d) => d.roomId === room);
      assert.deepEqual(ev.data, { text: 'doors close' });
      res = await rest.post(`/rooms/${room}/events`, { event: 'announce' }, {});
      assert.equal(res.status, 401);
    });

    test('401 without a token, INVALID_TOKEN with a bad one', async () => {
      let res = await rest.get(`/rooms/${room}/messages`);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'AUTH_REQUIRED');
      res = await rest.get(`/rooms/${room}/unread`, { token: 'not.a.token' });
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'INVALID_TOKEN');
    });

    test('every REST response matches /ops/openapi.json', async () => {
      await rest.validateExchanges();
    });
  });
  for (const [transport, room] of [['websocket', FROOMS.room8], ['polling', FROOMS.room9]]) test(`connection state recovery over ${transport} brings back the edits, deletions and reactions made while away (socket and REST): once, in order, after the missed messages`, async () => {
    // Heartbeats short enough that the drop is noticed within the test.
    const d = await startFeatures({ env: { HUBD_SOCKETIO__PING_INTERVAL: '500ms', HUBD_SOCKETIO__PING_TIMEOUT: '1s' } });
    const proxy = await new NetDrop(d.addr).start();
    try {
      const alice = await connect(proxy.url, '/hub/ops', { token: tokenOf('alice'), reconnect: true, transport });
      await joinAs(d, 'ops', 'alice', room, { socket: alice });
      const { socket: bob } = await joinAs(d, 'ops', 'bob', room);
      const [m1, m2, m3] = [await sendText(bob, room, 'one'), await sendText(bob, room, 'two'), await sendText(bob, room, 'three')];
      await waitForEvent(alice, 'hub:messageArrived', (x) => x.message.id === m3.id);
      const ok = async (event, payload) => {
        const ack = await emitWithAck(bob, event, { roomId: room, ...payload });
        assert.equal(ack.ok, true, `${event} ${JSON.stringify(ack)}`);
        return ack;
      };
      await ok('hub:edit', { messageId: m1.id, content: { body: 'one, first draft' } });
      const live = await waitForEvent(alice, 'hub:messageEdited', (x) => x.message.id === m1.id);
      const offset = alice.received.find((e) => e.name === 'hub:messageEdited' && e.data === live).args.at(-1);
      assert.match(offset, /^c\d+\./, 'a change event carries its offset');

      const sid = alice.id;
      let reconnected = false;
      alice.io.once('reconnect', () => { reconnected = true; });
      proxy.drop();
      await until(() => !alice.connected, { timeoutMs: 10_000, what: 'alice notices the drop' });
      const mark = alice.received.length;
      await ok('hub:edit', { messageId: m1.id, content: { body: 'one, final' } });
      // The reaction through REST: the same change, the same event.
      const reacted = await new RestClient(d, 'ops').post(`/messages/${m2.id}/reactions`, { emoji: '🎉' }, { token: tokenOf('bob') });
      assert.equal(reacted.status, 200, JSON.stringify(reacted.body));
      await ok('hub:delete', { messageId: m3.id });
      const m4 = await sendText(bob, room, 'four');
      await ok('hub:edit', { messageId: m4.id, content: { body: 'four, edited' } });
      const m5 = await sendText(bob, room, 'five');
      await ok('hub:delete', { messageId: m5.id });
      proxy.restore();
      await until(() => reconnected && alice.connected, { timeoutMs: 20_000, what: 'alice reconnects' });
      assert.equal(alice.recovered, true, 'socket.recovered');
      assert.equal(alice.id, sid, 'same sid');

      const mine = new Set([m1.id, m2.id, m3.id, m4.id, m5.id]);
      const about = (e) => e.data?.message?.id ?? e.data?.messageId;
      const got = () => alice.received.slice(mark).filter((e) => mine.has(about(e))).map((e) => [e.name, about(e)]);
      const want = [
        ['hub:messageArrived', m4.id], // sent while away: as it is now, its edit included
        ['hub:messageEdited', m1.id],
        ['hub:reaction', m2.id],
        ['hub:messageDeleted', m3.id],
      ];
      await until(() => got().length >= want.length, { timeoutMs: 10_000, what: 'the missed events' });
      const replayed = alice.received.slice(mark).filter((e) => mine.has(about(e)));
      assert.equal(replayed[0].data.message.content.body, 'four, edited');
      assert.equal(replayed[1].data.message.content.body, 'one, final');
      assert.deepEqual(replayed[2].data.reaction.map((r) => r.emoji), ['🎉']);
      for (const e of replayed) assert.match(e.args.at(-1), /^c?\d+\./, `${e.name} replayed with its offset`);
      // A live change after the recovery arrives once, after the replay.
      await ok('hub:edit', { messageId: m2.id, content: { body: 'two, edited live' } });
      await waitForEvent(alice, 'hub:messageEdited', (x) => x.message.id === m2.id);
      assert.deepEqual(got(), [...want, ['hub:messageEdited', m2.id]], 'every missed event once, in order, then the live one');
      assert.equal(alice.received.slice(mark).filter((e) => e.name === 'hub:history' || e.name === 'hub:joined').length, 0, 'no second join');
    } finally {
      await proxy.close();
      await d.close();
    }
  });
});
