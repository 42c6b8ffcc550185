// @hubd/client against the real daemon in Node: calls, typed errors,
// presence and typing, custom events.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startFeatures } from '../../../test/e2e/lib/features.mjs';
import { HubError } from '../dist/esm/index.js';
import { clientOf, FROOMS, PEOPLE, until } from './lib.mjs';

let daemon;
before(async () => {
  daemon = await startFeatures();
});
after(async () => {
  await daemon?.close();
});

test('join, send, history, edit, react, delete with typed results', async () => {
  const alice = clientOf(daemon.url, 'ops', 'alice');
  const bob = clientOf(daemon.url, 'ops', 'bob');
  const room = FROOMS.room1;
  const got = [];
  bob.on('message', (m) => got.push(m));
  const joined = await alice.room(room).join();
  assert.equal(joined.roomId, room);
  assert.equal(joined.hubRole, 'member');
  assert.equal(joined.permissions.canSend, true);
  await bob.join(room);

  const sent = await alice.room(room).send('text', { body: 'hello' });
  assert.equal(sent.messageType, 'text');
  assert.equal(sent.content.body, 'hello');
  assert.equal(sent.seq, 1);
  assert.ok(sent.clientMessageId, 'the outbox gives every send a clientMessageId');
  await until(() => got.length === 1, { what: 'bob gets the message' });
  assert.equal(got[0].id, sent.id);

  const edited = [];
  bob.on('edited', (m) => edited.push(m));
  const e = await alice.edit(room, sent.id, { body: 'hello, edited' });
  assert.equal(e.content.body, 'hello, edited');
  assert.ok(e.editedAt);
  await until(() => edited.length === 1, { what: 'bob gets the edit' });

  const reactions = [];
  alice.on('reaction', (r) => reactions.push(r));
  const list = await bob.react(room, sent.id, '👍');
  assert.deepEqual(list.map((r) => [r.emoji, r.userId]), [['👍', PEOPLE.bob.userId]]);
  await until(() => reactions.length === 1, { what: 'alice gets the reaction' });

  const hist = await bob.history(room, { limit: 10 });
  assert.deepEqual(hist.map((m) => m.id), [sent.id]);

  const deleted = [];
  bob.on('deleted', (d) => deleted.push(d));
  await alice.delete(room, sent.id);
  await until(() => deleted.length === 1, { what: 'bob gets the deletion' });
  assert.equal(deleted[0].messageId, sent.id);
  alice.close();
  bob.close();
});

test('failures reject with HubError and the contract code', async () => {
  const alice = clientOf(daemon.url, 'ops', 'alice');
  await assert.rejects(alice.join(FROOMS.archive), (err) => err instanceof HubError && err.code === 'ROOM_NOT_ELIGIBLE');
  await assert.rejects(alice.join(FROOMS.missing), (err) => err instanceof HubError && err.code === 'ROOM_NOT_FOUND');
  await assert.rejects(alice.send(FROOMS.room2, 'text', { body: 'x' }), (err) => err.code === 'NOT_JOINED');
  await alice.join(FROOMS.room2);
  await assert.rejects(alice.send(FROOMS.room2, 'text', {}), (err) => {
    assert.equal(err.code, 'INVALID_MESSAGE');
    assert.equal(err.event, 'hub:send');
    assert.equal(err.roomId, FROOMS.room2);
    assert.deepEqual(err.fields.map((f) => f.field), ['content.body']);
    return true;
  });
  await assert.rejects(alice.send(FROOMS.room2, 'video', { mediaUrl: 'x' }), (err) => err.code === 'TYPE_NOT_ALLOWED');
  assert.equal(alice.pendingSends().length, 0, 'refused sends leave the outbox');
  alice.close();
  await assert.rejects(alice.send(FROOMS.room2, 'text', { body: 'x' }), (err) => err.code === 'CLOSED');
});

test('a refused token is a connectError with the contract code', async () => {
  const c = clientOf(daemon.url, 'ops', 'alice', { token: 'not-a-jwt' });
  const errs = [];
  c.on('connectError', (e) => errs.push(e));
  await until(() => errs.length > 0, { what: 'connectError' });
  assert.ok(errs[0] instanceof HubError);
  assert.equal(errs[0].code, 'INVALID_TOKEN');
  await assert.rejects(c.join(FROOMS.room7), (err) => err.code === 'TIMEOUT');
  c.close();
});

test('presence, typing and custom events', async () => {
  const room = FROOMS.room3;
  const alice = clientOf(daemon.url, 'ops', 'alice');
  const bob = clientOf(daemon.url, 'ops', 'bob');
  await alice.join(room);
  await bob.join(room);
  await until(() => alice.online(room).get(PEOPLE.bob.userId) === 'online', { what: 'alice sees bob online' });
  // bob joined after alice: only the REST list tells him alice is there
  assert.equal(bob.online(room).has(PEOPLE.alice.userId), false);
  const now = await bob.room(room).fetchPresence();
  assert.equal(now.get(PEOPLE.alice.userId), 'online');
  assert.equal(bob.online(room).get(PEOPLE.alice.userId), 'online');
  await assert.rejects(bob.fetchPresence(FROOMS.missing), (err) => err instanceof HubError && err.code === 'ROOM_NOT_FOUND');

  const typing = [];
  alice.room(room).on('typing', (t) => typing.push(t));
  bob.room(room).typing();
  bob.room(room).typing(); // within 2 s: not sent again
  await until(() => alice.room(room).typingUsers.has(PEOPLE.bob.userId), { what: 'alice sees bob typing' });
  bob.room(room).stopTyping();
  await until(() => !alice.room(room).typingUsers.has(PEOPLE.bob.userId), { what: 'bob stopped typing' });
  assert.deepEqual(typing.map((t) => t.typing), [true, false]);

  await bob.room(room).away();
  await until(() => alice.online(room).get(PEOPLE.bob.userId) === 'away', { what: 'alice sees bob away' });

  const events = [];
  bob.on('event', (e) => events.push(e));
  await alice.room(room).emit('nudge', { hard: true });
  await until(() => events.length === 1, { what: 'bob gets the nudge' });
  assert.deepEqual(events[0], { roomId: room, event: 'nudge', userId: PEOPLE.alice.userId, data: { hard: true }, messageId: undefined, seq: undefined });

  bob.close();
  await until(() => !alice.online(room).has(PEOPLE.bob.userId), { what: 'alice sees bob offline', timeoutMs: 10_000 });
  alice.close();
});
