// Message history survives a daemon restart on the same data dir.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, startDaemon, waitForEvent } from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

let hubd;

before(async () => {
  hubd = await startDaemon();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

async function joinHistory(user) {
  const s = await connect(hubd.url, NSP.chat, { transport: 'websocket', token: tokenFor(user) });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.history });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const h = await waitForEvent(s, 'hub:history', (d) => d.roomId === ROOMS.history);
  return { socket: s, messages: h.messages };
}

function summary(m) {
  return { id: m.id, seq: m.seq, messageType: m.messageType, content: m.content, senderId: m.senderId };
}

test('history survives a restart, oldest first', async () => {
  const N = 7;
  const { socket, messages: before } = await joinHistory('alice');
  assert.deepEqual(before, [], 'fresh data dir has no history');

  const sent = [];
  for (let i = 0; i < N; i++) {
    const messageType = i % 2 === 0 ? 'text' : 'taskCard';
    const content = messageType === 'text' ? { body: `message ${i}` } : { title: `card ${i}`, points: i };
    const ack = await emitWithAck(socket, 'hub:send', { roomId: ROOMS.history, messageType, content });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    sent.push(ack.message);
  }
  socket.disconnect();

  // Before the restart a second user sees the same history.
  const live = await joinHistory('bob');
  assert.deepEqual(live.messages.map(summary), sent.map(summary));
  live.socket.disconnect();

  const firstAddr = hubd.addr;
  const exit = await hubd.restart();
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM is a clean exit');
  assert.ok(hubd.addr, `restarted daemon listens (was ${firstAddr})`);

  const afterRestart = await joinHistory('bob');
  assert.equal(afterRestart.messages.length, N);
  assert.deepEqual(afterRestart.messages.map(summary), sent.map(summary));
  for (let i = 0; i < N; i++) {
    assert.deepEqual(afterRestart.messages[i], sent[i], `message ${i} unchanged`);
  }

  // The sequence goes on after the restart.
  const ack = await emitWithAck(afterRestart.socket, 'hub:send', {
    roomId: ROOMS.history,
    messageType: 'text',
    content: { body: 'after restart' },
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.ok(ack.message.seq > sent[N - 1].seq, `seq ${ack.message.seq} after ${sent[N - 1].seq}`);
  assert.ok(!sent.some((m) => m.id === ack.message.id), 'new id after restart');
});

test('historyLimit on join, hub:loadHistory pages and join since', async () => {
  // lobby keeps historyLimit 5
  const N = 12;
  const s = await connect(hubd.url, NSP.lobby, { transport: 'websocket', token: tokenFor('alice') });
  const join = await emitWithAck(s, 'hub:join', { roomId: ROOMS.payload });
  assert.equal(join.ok, true, JSON.stringify(join));
  const sent = [];
  for (let i = 0; i < N; i++) {
    const ack = await emitWithAck(s, 'hub:send', { roomId: ROOMS.payload, messageType: 'text', content: { body: `p${i}` } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    sent.push(ack.message.id);
  }
  s.disconnect();

  const r = await connect(hubd.url, NSP.lobby, { transport: 'websocket', token: tokenFor('bob') });
  assert.equal((await emitWithAck(r, 'hub:join', { roomId: ROOMS.payload })).ok, true);
  const h = await waitForEvent(r, 'hub:history', (d) => d.roomId === ROOMS.payload);
  assert.deepEqual(h.messages.map((m) => m.id), sent.slice(N - 5), 'the newest 5, oldest first');

  const page = await emitWithAck(r, 'hub:loadHistory', { roomId: ROOMS.payload, before: sent[N - 5], limit: 4 });
  assert.equal(page.ok, true, JSON.stringify(page));
  assert.deepEqual(page.messages.map((m) => m.id), sent.slice(N - 9, N - 5));

  const last = await emitWithAck(r, 'hub:loadHistory', { roomId: ROOMS.payload, before: sent[N - 9], limit: 10 });
  assert.equal(last.ok, true, JSON.stringify(last));
  assert.deepEqual(last.messages.map((m) => m.id), sent.slice(0, N - 9));

  const newest = await emitWithAck(r, 'hub:loadHistory', { roomId: ROOMS.payload, limit: 2 });
  assert.deepEqual(newest.messages.map((m) => m.id), sent.slice(N - 2));
  r.disconnect();

  // since: everything after that message, even past historyLimit
  const c = await connect(hubd.url, NSP.lobby, { transport: 'websocket', token: tokenFor('carol') });
  assert.equal((await emitWithAck(c, 'hub:join', { roomId: ROOMS.payload, since: sent[2] })).ok, true);
  const since = await waitForEvent(c, 'hub:history', (d) => d.roomId === ROOMS.payload);
  assert.deepEqual(since.messages.map((m) => m.id), sent.slice(3));
  c.disconnect();
});
