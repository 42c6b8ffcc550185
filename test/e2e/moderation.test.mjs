// Moderation on hub "webinar" (defaultSilenced, attendees moderated):
// silence and speak requests, pending messages with approve and reject
// (surviving a restart), blocks (timed too), kicks, room settings, over
// socket events and the REST endpoints.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, eventsNamed, until, waitForEvent } from './lib/harness.mjs';
import { connectAs, FROOMS, joinAs, PEOPLE, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

let hubd;
let rest;

before(async () => {
  hubd = await startFeatures();
  rest = new RestClient(hubd, 'webinar');
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const HOST = { claims: { roleId: 'host' } };
const HOST_TOKEN = () => tokenOf('alice', { roleId: 'host' });
const BOB = PEOPLE.bob.userId;
const CAROL = PEOPLE.carol.userId;

describe('webinar moderation', () => {
  const room = FROOMS.general;
  let host;
  let bob;
  let carol;

  before(async () => {
    let ack;
    ({ socket: host, ack } = await joinAs(hubd, 'webinar', 'alice', room, HOST));
    assert.equal(ack.silenced, false);
    assert.equal(ack.permissions.canModerate, true);
    ({ socket: bob, ack } = await joinAs(hubd, 'webinar', 'bob', room));
    assert.equal(ack.silenced, true, 'attendees join silenced');
    assert.equal(ack.permissions.moderated, true);
    ({ socket: carol } = await joinAs(hubd, 'webinar', 'carol', room));
  });

  test('a silenced attendee asks to speak; unsilenced, their message waits for approval', async () => {
    await refusedWith(bob, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'hi' } }, 'SILENCED');
    let ack = await emitWithAck(bob, 'hub:requestSpeak', { roomId: room });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(host, 'hub:speakRequest', (d) => d.userId === BOB && d.roomId === room);
    assert.equal(eventsNamed(carol, 'hub:speakRequest').length, 0, 'only moderators get speak requests');

    ack = await emitWithAck(host, 'hub:unsilence', { roomId: room, userId: BOB });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(bob, 'hub:unsilenced', (d) => d.roomId === room);

    const m = await sendText(bob, room, 'may I?');
    assert.equal(m.status, 'pending');
    const pending = await waitForEvent(host, 'hub:pendingMessage', (d) => d.message.id === m.id);
    assert.equal(pending.roomId, room);

    ack = await emitWithAck(host, 'hub:approve', { roomId: room, messageId: m.id });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const arrived = await waitForEvent(carol, 'hub:messageArrived', (d) => d.message.id === m.id);
    assert.equal(arrived.message.status, 'published');
    // carol saw nothing of it before the approval.
    assert.equal(eventsNamed(carol, 'hub:pendingMessage').length, 0);
  });

  test('reject sends hub:messageRejected to the sender, nobody else sees the message', async () => {
    const m = await sendText(bob, room, 'off topic');
    await waitForEvent(host, 'hub:pendingMessage', (d) => d.message.id === m.id);
    const ack = await emitWithAck(host, 'hub:reject', { roomId: room, messageId: m.id, reason: 'off topic' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const rej = await waitForEvent(bob, 'hub:messageRejected', (d) => d.messageId === m.id);
    assert.equal(rej.reason, 'off topic');
    await emitWithAck(carol, 'hub:join', { roomId: room });
    assert.equal(eventsNamed(carol, 'hub:messageArrived', (d) => d.message.id === m.id).length, 0);
  });

  test('an attendee cannot moderate or manage', async () => {
    await refusedWith(carol, 'hub:silence', { roomId: room, userId: BOB }, 'FORBIDDEN');
    await refusedWith(carol, 'hub:updateRoom', { roomId: room, settings: { topic: 'mine' } }, 'FORBIDDEN');
    await refusedWith(carol, 'hub:kick', { roomId: room, userId: BOB }, 'FORBIDDEN');
  });

  test('updateRoom broadcasts hub:roomUpdated', async () => {
    const ack = await emitWithAck(host, 'hub:updateRoom', { roomId: room, settings: { topic: 'Q&A', slowMode: 5 } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await waitForEvent(carol, 'hub:roomUpdated', (d) => d.roomId === room);
    assert.deepEqual(ev.settings, { topic: 'Q&A', slowMode: 5 });
    assert.equal(ev.by, PEOPLE.alice.userId);
  });

  test('kick removes the user, who may rejoin', async () => {
    const ack = await emitWithAck(host, 'hub:kick', { roomId: room, userId: CAROL, reason: 'noise' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await waitForEvent(carol, 'hub:kicked', (d) => d.roomId === room);
    assert.equal(ev.reason, 'noise');
    await refusedWith(carol, 'hub:requestSpeak', { roomId: room }, 'NOT_JOINED');
    ({ socket: carol } = await joinAs(hubd, 'webinar', 'carol', room, { socket: carol }));
  });

  test('block removes the user and rejoining is BLOCKED until unblocked', async () => {
    let ack = await emitWithAck(host, 'hub:block', { roomId: room, userId: CAROL, reason: 'spam' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await waitForEvent(carol, 'hub:blocked', (d) => d.roomId === room);
    assert.equal(ev.reason, 'spam');
    await refusedWith(carol, 'hub:join', { roomId: room }, 'BLOCKED');
    // A new connection is blocked too, and so is REST.
    const again = await connectAs(hubd, 'webinar', 'carol');
    await refusedWith(again, 'hub:join', { roomId: room }, 'BLOCKED');
    const res = await rest.get(`/rooms/${room}/messages`, { token: tokenOf('carol') });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'BLOCKED');
    ack = await emitWithAck(host, 'hub:unblock', { roomId: room, userId: CAROL });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await joinAs(hubd, 'webinar', 'carol', room, { socket: again });
  });

  test('a timed block expires', async () => {
    const t0 = Date.now();
    const res = await rest.post(`/rooms/${room}/blocks`, { userId: PEOPLE.erin.userId, durationSeconds: 2 }, { token: HOST_TOKEN() });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const erin = await connectAs(hubd, 'webinar', 'erin');
    const err = await refusedWith(erin, 'hub:join', { roomId: room }, 'BLOCKED');
    assert.ok(err.details?.until, `a timed block names its end: ${JSON.stringify(err)}`);
    await until(async () => (await emitWithAck(erin, 'hub:join', { roomId: room })).ok, { timeoutMs: 8000, intervalMs: 200, what: 'the block to expire' });
    assert.ok(Date.now() - t0 >= 1900, `the 2 s block ended after ${Date.now() - t0}ms`);
  });

  test('REST moderation endpoints', async () => {
    const h = HOST_TOKEN();
    let res = await rest.post(`/rooms/${room}/silences`, { userId: BOB }, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitForEvent(bob, 'hub:silenced', (d) => d.roomId === room);
    await refusedWith(bob, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'x' } }, 'SILENCED');
    res = await rest.delete(`/rooms/${room}/silences/${BOB}`, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const mark = bob.received.length;
    res = await rest.patch(`/rooms/${room}`, { settings: { topic: 'REST' } }, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitForEvent(bob, 'hub:roomUpdated', (d) => d.settings?.topic === 'REST', undefined, { after: mark });
    res = await rest.post(`/rooms/${room}/kicks`, { userId: PEOPLE.erin.userId, reason: 'bye' }, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    res = await rest.post(`/rooms/${room}/blocks`, { userId: PEOPLE.frank.userId }, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    res = await rest.delete(`/rooms/${room}/blocks/${PEOPLE.frank.userId}`, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    res = await rest.post(`/rooms/${room}/blocks`, { userId: BOB }, { token: tokenOf('carol') });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'FORBIDDEN');
    res = await rest.post(`/rooms/${room}/blocks`, { userId: BOB, durationSeconds: -1 }, { token: h });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'INVALID_MESSAGE');
    res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'via REST' } }, { token: tokenOf('bob') });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.message.status, 'pending');
    assert.equal(res.body.status, 'pending');
    const id = res.body.message.id;
    await waitForEvent(host, 'hub:pendingMessage', (d) => d.message.id === id);
    res = await rest.post(`/messages/${id}/reject`, { reason: 'no' }, { token: h });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitForEvent(bob, 'hub:messageRejected', (d) => d.messageId === id);
  });

  test('pending messages survive a restart and are approved over REST', async () => {
    const m = await sendText(bob, room, 'wait for me');
    assert.equal(m.status, 'pending');
    await hubd.restart();
    let res = await rest.get(`/rooms/${room}/pending`, { token: HOST_TOKEN() });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.messages.some((x) => x.id === m.id), JSON.stringify(res.body));
    res = await rest.get(`/rooms/${room}/pending`, { token: tokenOf('carol') });
    assert.equal(res.status, 403);
    const { socket: watcher } = await joinAs(hubd, 'webinar', 'carol', room);
    res = await rest.post(`/messages/${m.id}/approve`, undefined, { token: HOST_TOKEN() });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.message.status, 'published');
    await waitForEvent(watcher, 'hub:messageArrived', (d) => d.message.id === m.id);
    res = await rest.get(`/rooms/${room}/pending`, { token: HOST_TOKEN() });
    assert.ok(!res.body.messages.some((x) => x.id === m.id));
  });

  test('every REST response matches /webinar/openapi.json', async () => {
    await rest.validateExchanges();
  });
});
