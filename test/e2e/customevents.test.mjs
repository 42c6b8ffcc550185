// Custom events: ephemeral ones are only broadcast, the others are stored
// and replayed with history; server-side directions come from REST with a
// service token.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  connect,
  connectError,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  FIXTURES,
  makeToken,
  startDaemon,
  waitForEvent,
} from './lib/harness.mjs';

const NSP = '/hub/board';
const ROOM = 'board-1';
const dir = path.join(FIXTURES, 'events');
const ann = { userId: 'u-ann', roleId: 'user' };
const ben = { userId: 'u-ben', roleId: 'user' };
const service = { userId: 'svc-1', roleId: 'service' };

let hubd;

before(async () => {
  hubd = await startDaemon({ hubs: path.join(dir, 'hubs'), records: path.join(dir, 'records') });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

async function member(user) {
  const s = await connect(hubd.url, NSP, { transport: 'websocket', token: makeToken(user) });
  const history = waitForEvent(s, 'hub:history');
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOM });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return { s, history: (await history).messages };
}

async function rest(method, url, user, body) {
  const res = await fetch(`${hubd.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${makeToken(user)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('a persisted clientToRoom event reaches the room and is replayed with history after a restart', async () => {
  const a = await member(ann);
  const b = await member(ben);
  const got = waitForEvent(b.s, 'pinned');
  const ack = await emitWithAck(a.s, 'hub:event', { roomId: ROOM, event: 'pinned', data: { note: 'ship it' } });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.ok(ack.messageId, 'a stored event has a message id');
  const ev = await got;
  assert.deepEqual(ev.data, { note: 'ship it' });
  assert.equal(ev.userId, ann.userId);
  assert.equal(ev.messageId, ack.messageId);

  a.s.disconnect();
  b.s.disconnect();
  await hubd.restart();
  const c = await member(ben);
  const replayed = c.history.find((m) => m.id === ack.messageId);
  assert.ok(replayed, `history has the event: ${JSON.stringify(c.history)}`);
  assert.equal(replayed.messageType, 'pinned');
  assert.equal(replayed.senderId, ann.userId);
  assert.deepEqual(replayed.content, { data: { note: 'ship it' } });
  c.s.disconnect();
});

test('an ephemeral event is broadcast but not stored', async () => {
  const a = await member(ann);
  const b = await member(ben);
  const got = waitForEvent(b.s, 'cursor');
  const ack = await emitWithAck(a.s, 'hub:event', { roomId: ROOM, event: 'cursor', data: { x: 1, y: 2 } });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.messageId, undefined);
  assert.deepEqual((await got).data, { x: 1, y: 2 });
  const later = await member(ben);
  assert.equal(later.history.some((m) => m.messageType === 'cursor'), false);
  for (const x of [a, b, later]) x.s.disconnect();
});

test('server-side directions are refused from clients', async () => {
  const a = await member(ann);
  for (const event of ['announcement', 'notice']) {
    const ack = await emitWithAck(a.s, 'hub:event', { roomId: ROOM, event, data: {} });
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, 'UNKNOWN_EVENT');
  }
  a.s.disconnect();
});

test('serverToRoom over REST with a service token reaches the room and is stored; others get 403', async () => {
  const a = await member(ann);
  const got = waitForEvent(a.s, 'announcement');
  const denied = await rest('POST', `/board/rooms/${ROOM}/events`, ann, { event: 'announcement', data: { x: 1 } });
  assert.equal(denied.status, 403, JSON.stringify(denied.body));
  const res = await rest('POST', `/board/rooms/${ROOM}/events`, service, { event: 'announcement', data: { text: 'maintenance at 5' } });
  assert.ok(res.status >= 200 && res.status < 300, JSON.stringify(res.body));
  const ev = await got;
  assert.deepEqual(ev.data, { text: 'maintenance at 5' });
  const later = await member(ben);
  const stored = later.history.find((m) => m.messageType === 'announcement');
  assert.ok(stored, 'announcement replayed with history');
  assert.equal(stored.senderId, 'system');
  a.s.disconnect();
  later.s.disconnect();
});

test('serverToClient over REST reaches only the named user', async () => {
  const a = await member(ann);
  const b = await member(ben);
  const got = waitForEvent(b.s, 'notice');
  const res = await rest('POST', `/board/rooms/${ROOM}/events`, service, { event: 'notice', data: { hi: 'ben' }, userId: ben.userId });
  assert.ok(res.status >= 200 && res.status < 300, JSON.stringify(res.body));
  assert.deepEqual((await got).data, { hi: 'ben' });
  // A round trip on ann's socket: anything sent to her has arrived.
  await emitWithAck(a.s, 'hub:join', { roomId: ROOM });
  assert.equal(eventsNamed(a.s, 'notice').length, 0);
  a.s.disconnect();
  b.s.disconnect();
});

test('a refused connection is counted by hub and reason', async () => {
  const err = await connectError(hubd.url, NSP, { transport: 'websocket' });
  assert.equal(err.message, 'Authentication required');
  const metrics = await (await fetch(`${hubd.adminUrl}/metrics`)).text();
  assert.match(metrics, /^hubd_hub_connect_errors_total\{hub="board",reason="auth_required"\} [1-9]/m);
});
