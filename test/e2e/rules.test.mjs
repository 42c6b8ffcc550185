// Spec rules that hold on every path: roomEligibility never from the auth
// cache, canRead false, historyLimit 0, stored custom events under the
// message rate limit and moderation, globalModeration, binary and
// out-of-range values, custom events named like a disabled standard event.
// Each rule is checked over websocket and polling, and over REST where the
// path exists.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  connect,
  copyFixture,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  makeToken,
  startDaemon,
  waitForEvent,
} from './lib/harness.mjs';
import { refusedWith } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

const MODES = ['websocket', 'polling'];

// The Debian python3 (python3-socketio), not a python3 of another install.
const PYTHON = process.env.HUBD_E2E_PYTHON || '/usr/bin/python3';
const PYBINARY = fileURLToPath(new URL('./tools/pyclient/binary.py', import.meta.url));

let hubd;
let dir;

before(async () => {
  dir = await copyFixture('rules');
  hubd = await startDaemon({ hubs: path.join(dir, 'hubs'), records: path.join(dir, 'records'), lib: path.join(dir, 'lib') });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

function user(tier, roleId = 'user') {
  return { userId: `u-${tier}-${randomUUID().slice(0, 8)}`, roleId, tier };
}

async function member(hub, u, transport, roomId = 's1', extra = {}) {
  const s = await connect(hubd.url, `/hub/${hub}`, { transport, token: makeToken(u) });
  const ack = await emitWithAck(s, 'hub:join', { roomId, ...extra });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await waitForEvent(s, 'hub:joined', (d) => d.roomId === roomId);
  return s;
}

// roundTrip returns once every event the daemon sent the socket before an
// acked event has arrived: what is not there by then was never sent.
async function roundTrip(s) {
  await emitWithAck(s, 'hub:requestState', { roomId: 'none' });
}

async function setStageOpen(open) {
  const stages = [
    { id: 's1', open, title: 'Main stage' },
    { id: 's2', open: true, title: 'Side stage' },
  ];
  await writeFile(path.join(dir, 'records', 'stage.json'), JSON.stringify(stages));
  const res = await hubd.reload();
  assert.equal(res.msg, 'reload complete');
}

for (const transport of MODES) {
  test(`${transport}: an ineligible room admits nobody, whatever the auth cache holds`, async () => {
    const u = { userId: transport === 'websocket' ? 'u-ws' : 'u-polling', roleId: 'user' };
    const admin = { userId: `admin-${transport}`, roleId: 'superAdmin' };
    const rest = new RestClient(hubd, 'stage');
    const s = await member('stage', u, transport);
    const a = await member('stage', admin, transport);
    assert.equal((await rest.call('GET', '/rooms/s1/messages', { token: makeToken(u) })).status, 200);
    await emitWithAck(s, 'hub:leave', { roomId: 's1' });
    await emitWithAck(a, 'hub:leave', { roomId: 's1' });
    try {
      await setStageOpen(false);
      await refusedWith(s, 'hub:join', { roomId: 's1' }, 'ROOM_NOT_ELIGIBLE');
      await refusedWith(a, 'hub:join', { roomId: 's1' }, 'ROOM_NOT_ELIGIBLE');
      const r = await rest.call('GET', '/rooms/s1/messages', { token: makeToken(u) });
      assert.equal(r.body.error?.code ?? r.body.code, 'ROOM_NOT_ELIGIBLE', JSON.stringify(r.body));
    } finally {
      await setStageOpen(true);
    }
    const ack = await emitWithAck(s, 'hub:join', { roomId: 's1' });
    assert.equal(ack.ok, true, 'eligible again');
  });

  test(`${transport}: a role without canRead gets no history, no recovery and no REST reads`, async () => {
    const sender = user('member');
    const blind = user('blind');
    const w = await member('floor', sender, transport, 's2');
    const m = await emitWithAck(w, 'hub:send', { roomId: 's2', messageType: 'text', content: { body: 'secret' } });
    assert.equal(m.ok, true);
    const b = await member('floor', blind, transport, 's2', { since: m.message.id });
    await refusedWith(b, 'hub:loadHistory', { roomId: 's2' }, 'FORBIDDEN');
    await roundTrip(b);
    assert.deepEqual(eventsNamed(b, 'hub:history'), [], 'no history or recovery on join');
    const rest = new RestClient(hubd, 'floor');
    for (const route of ['/rooms/s2/messages', '/rooms/s2/receipts', '/rooms/s2/unread', `/messages/${m.message.id}`]) {
      const r = await rest.call('GET', route, { token: makeToken(blind) });
      assert.equal(r.status, 403, `${route}: ${JSON.stringify(r.body)}`);
    }
    const own = await emitWithAck(b, 'hub:send', { roomId: 's2', messageType: 'text', content: { body: 'mine' } });
    assert.equal(own.ok, true, 'sending follows canSend');
  });

  test(`${transport}: historyLimit 0 sends no history on join, paging still works`, async () => {
    const u = user('member');
    const w = await member('floor', u, transport, 's2');
    await emitWithAck(w, 'hub:send', { roomId: 's2', messageType: 'text', content: { body: 'one' } });
    const late = await member('floor', user('member'), transport, 's2');
    await roundTrip(late);
    assert.deepEqual(eventsNamed(late, 'hub:history'), []);
    const page = await emitWithAck(late, 'hub:loadHistory', { roomId: 's2', limit: 5 });
    assert.equal(page.ok, true);
    assert.ok(page.messages.some((x) => x.content.body === 'one'));
  });

  test(`${transport}: stored custom events, edits and reactions share messageRateLimit`, async () => {
    const u = user('member');
    const s = await member('floor', u, transport);
    const m = await emitWithAck(s, 'hub:send', { roomId: 's1', messageType: 'text', content: { body: '1' } });
    assert.equal(m.ok, true);
    assert.equal((await emitWithAck(s, 'hub:event', { roomId: 's1', event: 'pin', data: { n: 2 } })).ok, true);
    assert.equal((await emitWithAck(s, 'hub:edit', { roomId: 's1', messageId: m.message.id, content: { body: '1!' } })).ok, true);
    await refusedWith(s, 'hub:event', { roomId: 's1', event: 'pin', data: { n: 4 } }, 'RATE_LIMITED');
    await refusedWith(s, 'hub:react', { roomId: 's1', messageId: m.message.id, emoji: '👍' }, 'RATE_LIMITED');
    await refusedWith(s, 'hub:edit', { roomId: 's1', messageId: m.message.id, content: { body: '?' } }, 'RATE_LIMITED');
    await refusedWith(s, 'hub:send', { roomId: 's1', messageType: 'text', content: { body: '5' } }, 'RATE_LIMITED');
    const r = await new RestClient(hubd, 'floor').call('POST', '/rooms/s1/messages', {
      token: makeToken(u),
      body: { messageType: 'text', content: { body: 'rest' } },
    });
    assert.equal(r.status, 429, JSON.stringify(r.body));
  });

  test(`${transport}: a moderated role's stored custom event waits for approval`, async () => {
    const room = 's1';
    const quiet = await member('floor', user('quiet'), transport, room);
    const mod = await member('floor', user('mod'), transport, room);
    const other = await member('floor', user('member'), transport, room);
    const ack = await emitWithAck(quiet, 'hub:event', { roomId: room, event: 'pin', data: { note: 'hold' } });
    assert.equal(ack.ok, true);
    assert.equal(ack.status, 'pending');
    const pending = await waitForEvent(mod, 'hub:pendingMessage', (d) => d.message.id === ack.messageId);
    assert.equal(pending.message.messageType, 'pin');
    await roundTrip(other);
    assert.deepEqual(eventsNamed(other, 'pin', (d) => d.messageId === ack.messageId), [], 'not before approval');
    const ok = await emitWithAck(mod, 'hub:approve', { roomId: room, messageId: ack.messageId });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const got = await waitForEvent(other, 'pin', (d) => d.messageId === ack.messageId);
    assert.deepEqual(got.data, { note: 'hold' });
  });

  test(`${transport}: globalModeration holds a moderator's own message until a moderator approves it`, async () => {
    const room = 's1';
    const modA = await member('vetted', user('mod'), transport, room);
    const modB = await member('vetted', user('mod'), transport, room);
    const reader = await member('vetted', user('member'), transport, room);
    const ack = await emitWithAck(modA, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'from a mod' } });
    assert.equal(ack.ok, true);
    assert.equal(ack.status, 'pending');
    const ev = await emitWithAck(modA, 'hub:event', { roomId: room, event: 'pin', data: {} });
    assert.equal(ev.status, 'pending');
    await roundTrip(reader);
    assert.deepEqual(eventsNamed(reader, 'hub:messageArrived', (d) => d.message.id === ack.message.id), []);
    assert.equal((await emitWithAck(modB, 'hub:approve', { roomId: room, messageId: ack.message.id })).ok, true);
    await waitForEvent(reader, 'hub:messageArrived', (d) => d.message.id === ack.message.id);
  });

  test(`${transport}: binary data in a message or a custom event is refused with its field, nothing stored`, async () => {
    const u = user('member');
    const s = await member('floor', u, transport, 's2');
    const other = await member('floor', user('member'), transport, 's2');
    const send = await refusedWith(
      s,
      'hub:send',
      { roomId: 's2', messageType: 'text', content: { body: Buffer.from('binary') } },
      'INVALID_MESSAGE',
    );
    assert.equal(send.details[0].field, 'content.body', JSON.stringify(send));
    const ev = await refusedWith(
      s,
      'hub:event',
      { roomId: 's2', event: 'pin', data: { files: [Buffer.from([1, 2, 3])] } },
      'INVALID_MESSAGE',
    );
    assert.equal(ev.details[0].field, 'data.files[0]');
    await roundTrip(other);
    assert.deepEqual(eventsNamed(other, 'pin'), []);
    assert.deepEqual(eventsNamed(other, 'hub:messageArrived', (d) => d.message.senderId === u.userId), []);
    const page = await emitWithAck(s, 'hub:loadHistory', { roomId: 's2', limit: 200 });
    assert.deepEqual(page.messages.filter((x) => x.senderId === u.userId), []);
  });

  test(`${transport}: python-socketio binary in hub:send content or hub:event data is refused with its field, nothing stored`, async () => {
    const u = user('member');
    const other = await member('floor', user('member'), transport, 's2');
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [PYBINARY, hubd.url, '/hub/floor', makeToken(u), 's2', transport, 'pin'],
      { timeout: 30_000 },
    );
    const acks = JSON.parse(stdout);
    assert.equal(acks.join.ok, true, stdout);
    assert.equal(acks.send.ok, false, stdout);
    assert.equal(acks.send.error.code, 'INVALID_MESSAGE', stdout);
    assert.equal(acks.send.error.details[0].field, 'content.body', stdout);
    assert.equal(acks.event.ok, false, stdout);
    assert.equal(acks.event.error.code, 'INVALID_MESSAGE', stdout);
    assert.equal(acks.event.error.details[0].field, 'data.files[0]', stdout);
    await roundTrip(other);
    assert.deepEqual(eventsNamed(other, 'pin'), []);
    assert.deepEqual(eventsNamed(other, 'hub:messageArrived', (d) => d.message.senderId === u.userId), []);
    const page = await emitWithAck(other, 'hub:loadHistory', { roomId: 's2', limit: 200 });
    assert.deepEqual(page.messages.filter((x) => x.senderId === u.userId), []);
  });

  test(`${transport}: integers beyond 2^53 are refused with INVALID_MESSAGE and the field`, async () => {
    const s = await member('floor', user('member'), transport, 's2');
    const err = await refusedWith(
      s,
      'hub:send',
      { roomId: 's2', messageType: 'reading', content: { value: 1.5, count: 2 ** 53 + 2 } },
      'INVALID_MESSAGE',
    );
    assert.equal(err.details[0].field, 'content.count');
  });

  test(`${transport}: a custom event may be named like the typing indicator this hub does not enable`, async () => {
    const a = await member('floor', user('member'), transport, 's2');
    const b = await member('floor', user('member'), transport, 's2');
    const ack = await emitWithAck(a, 'hub:event', { roomId: 's2', event: 'typing', data: { field: 'title' } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const got = await waitForEvent(b, 'typing');
    assert.deepEqual(got.data, { field: 'title' });
  });
}

test('REST: a Decimal of 1e400 is refused with INVALID_MESSAGE and the field path', async () => {
  const u = user('member');
  const res = await fetch(`${hubd.url}/floor/rooms/s2/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${makeToken(u)}`, 'content-type': 'application/json' },
    body: '{"messageType":"reading","content":{"value":1e400}}',
  });
  const body = await res.json();
  assert.equal(res.status, 400, JSON.stringify(body));
  const err = body.error ?? body;
  assert.equal(err.code, 'INVALID_MESSAGE');
  assert.equal(err.details[0].field, 'content.value');
});

for (const transport of MODES) {
  test(`${transport}: restricted-audience messages are stored for their audience only (history, paging, recovery, REST, unread)`, async () => {
    const room = transport === 'websocket' ? 's1' : 's2';
    const [ann, ben, cid] = [user('ann'), user('ben'), user('cid')];
    const a = await member('cards', ann, transport, room);
    const b = await member('cards', ben, transport, room);
    const first = await emitWithAck(a, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'hello' } });
    assert.equal(first.ok, true);
    const move = (s, content) => emitWithAck(s, 'hub:send', { roomId: room, messageType: 'move', content });
    const deal = await move(a, { kind: 'deal', card: 'ace' });
    assert.equal(deal.ok, true, JSON.stringify(deal));
    const peek = await move(a, { kind: 'peek', to: cid.userId, card: 'king' });
    const quiet = await move(b, { kind: 'quiet', card: 'two' });
    const table = await move(b, { kind: 'table', card: 'three' });
    for (const ack of [peek, quiet, table]) assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(a, 'hub:messageArrived', (d) => d.message.id === table.message.id);

    const bodies = (msgs) => msgs.map((m) => m.content.card ?? m.content.body);
    const historyOf = async (s) => (await emitWithAck(s, 'hub:loadHistory', { roomId: room, limit: 50 })).messages;
    assert.deepEqual(bodies(await historyOf(a)), ['hello', 'ace', 'three']);
    assert.deepEqual(bodies(await historyOf(b)), ['hello', `dealt to ${ann.userId}`, 'two']);

    // A late joiner recovering since the first message sees what is for them.
    const c = await member('cards', cid, transport, room, { since: first.message.id });
    const rec = await waitForEvent(c, 'hub:history', (d) => d.roomId === room);
    assert.deepEqual(bodies(rec.messages), [`dealt to ${ann.userId}`, 'king', 'three']);
    assert.deepEqual(bodies(await historyOf(c)), ['hello', `dealt to ${ann.userId}`, 'king', 'three']);

    const rest = new RestClient(hubd, 'cards');
    const list = await rest.call('GET', `/rooms/${room}/messages?limit=50`, { token: makeToken(ben) });
    assert.equal(list.status, 200);
    assert.deepEqual(bodies(list.body.messages ?? list.body), ['hello', `dealt to ${ann.userId}`, 'two']);
    const hidden = await rest.call('GET', `/messages/${deal.message.id}`, { token: makeToken(ben) });
    assert.equal(hidden.status, 404, JSON.stringify(hidden.body));
    const mine = await rest.call('GET', `/messages/${deal.message.id}`, { token: makeToken(ann) });
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.message?.audience ?? mine.body.audience, { users: [ann.userId] });
    const unread = await rest.call('GET', `/rooms/${room}/unread`, { token: makeToken(cid) });
    assert.equal(unread.status, 200);
    assert.equal(unread.body.unread ?? unread.body.count, 4, JSON.stringify(unread.body));
  });
}
