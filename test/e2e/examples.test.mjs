// The example hubs of configs/ do what docs/examples.md says, on the real
// daemon with configs/hubd.yaml: support desk, live dashboard, moderated
// webinar.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { connect, Daemon, disconnectAll, emitWithAck, makeToken, tempDir, waitForEvent } from './lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECRET = 'hubd-dev-secret-change-me'; // configs/hubd.yaml
const token = (userId, roleId = 'user') => makeToken({ userId, roleId }, { secret: SECRET });

let hubd;
let data;
before(async () => {
  data = await tempDir();
  hubd = new Daemon({
    argv: ['serve', '--config', path.join(root, 'configs', 'hubd.yaml'), '--listen', '127.0.0.1:0', '--data', data, '--log-format', 'json'],
  });
  await hubd.start();
});
after(async () => {
  disconnectAll();
  await hubd?.close();
  await rm(data, { recursive: true, force: true });
});

test('support desk: the customer and any agent talk in the ticket; other customers and closed tickets are refused', async () => {
  const nsp = '/hub/supportDesk';
  const customer = await connect(hubd.url, nsp, { token: token('c1') });
  const agent = await connect(hubd.url, nsp, { token: token('a7', 'agent') });
  const boss = await connect(hubd.url, nsp, { token: token('s1', 'supervisor') });
  assert.equal((await emitWithAck(customer, 'hub:join', { roomId: 't100' })).hubRole, 'customer');
  assert.equal((await emitWithAck(agent, 'hub:join', { roomId: 't100' })).hubRole, 'agent');
  assert.equal((await emitWithAck(boss, 'hub:join', { roomId: 't100' })).hubRole, 'system');
  const sent = await emitWithAck(customer, 'hub:send', { roomId: 't100', messageType: 'text', content: { body: 'I cannot log in' } });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  await waitForEvent(agent, 'hub:messageArrived', (d) => d.message.id === sent.message.id);
  assert.equal((await emitWithAck(customer, 'hub:join', { roomId: 't101' })).error.code, 'FORBIDDEN', "another customer's ticket");
  assert.equal((await emitWithAck(agent, 'hub:join', { roomId: 't102' })).error.code, 'ROOM_NOT_ELIGIBLE', 'a closed ticket');
});

test('live dashboard: viewers receive server events posted over REST and cannot send', async () => {
  const viewer = await connect(hubd.url, '/hub/liveDashboard', { token: token('u1') });
  assert.equal((await emitWithAck(viewer, 'hub:join', { roomId: 'sales' })).hubRole, 'viewer');
  const res = await fetch(`${hubd.url}/liveDashboard/rooms/sales/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token('feeder', 'service')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'metricUpdate', data: { name: 'orders', value: 42 } }),
  });
  assert.equal(res.status, 200, await res.text());
  const update = await waitForEvent(viewer, 'metricUpdate');
  assert.deepEqual(update, { roomId: 'sales', data: { name: 'orders', value: 42 } });
  const denied = await emitWithAck(viewer, 'hub:send', { roomId: 'sales', messageType: 'system', content: { body: 'x' } });
  assert.equal(denied.ok, false);
  const notService = await fetch(`${hubd.url}/liveDashboard/rooms/sales/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token('u1')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'alert', data: {} }),
  });
  assert.equal(notService.status, 403, 'only service tokens post server events');
  await notService.text();
});

test("webinar: an attendee's question waits for a moderator, then reaches the room", async () => {
  const nsp = '/hub/webinar';
  const host = await connect(hubd.url, nsp, { token: token('u1') });
  const attendee = await connect(hubd.url, nsp, { token: token('u3') });
  const other = await connect(hubd.url, nsp, { token: token('u4') });
  assert.equal((await emitWithAck(host, 'hub:join', { roomId: 'w1' })).hubRole, 'host');
  const joined = await emitWithAck(attendee, 'hub:join', { roomId: 'w1' });
  assert.equal(joined.hubRole, 'attendee');
  assert.equal(joined.permissions.moderated, true);
  await emitWithAck(other, 'hub:join', { roomId: 'w1' });
  const q = await emitWithAck(attendee, 'hub:send', { roomId: 'w1', messageType: 'text', content: { body: 'When is the release?' } });
  assert.equal(q.ok, true, JSON.stringify(q));
  assert.equal(q.message.status, 'pending');
  const approved = await emitWithAck(host, 'hub:approve', { roomId: 'w1', messageId: q.message.id });
  assert.equal(approved.ok, true, JSON.stringify(approved));
  await waitForEvent(other, 'hub:messageArrived', (d) => d.message.id === q.message.id);
  assert.equal((await emitWithAck(attendee, 'hub:join', { roomId: 'w2' })).error.code, 'ROOM_NOT_ELIGIBLE', 'an ended session');
});
