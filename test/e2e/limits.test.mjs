// Hub settings seen through one daemon on a non-default socketio.path:
// globalModeration, connectionTimeout, the ephemeral signal cap, recording
// indicators, the raw packet size cap, and toggles that are off (receipts,
// replyTo, forwarded).

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  connectError,
  disconnectAll,
  emitWithAck,
  engineHandshake,
  eventsNamed,
  tempDir,
  waitForDisconnect,
  waitForEvent,
} from './lib/harness.mjs';
import { writeOpenHub } from './lib/cluster.mjs';
import { FROOMS, PEOPLE, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';

const IO_PATH = '/rt/io/';
const MAX_SIZE = 200;
const SLACK = 4 << 10;

const TOWN = `hubBasics:
  name: town
  description: Global moderation, indicators and toggles off.
roomSettings:
  roomDataObject: chatRoom
  roomEligibility: chatRoom.chatEnabled == true
  authScripts:
    - name: moderators
      script: user.roleId == "mod"
      hubRole: moderator
    - name: everyone
      script: user.userId != ""
      hubRole: member
hubRoles:
  - name: moderator
    canRead: true
    canSend: true
    canModerate: true
  - name: member
    canRead: true
    canSend: true
messageSettings:
  messageTypes:
    - text
  enableReplyTo: false
  enableForwarded: false
eventSettings:
  enableTypingIndicator: true
  enableRecordingIndicator: true
  enableReadReceipts: false
  enableDeliveryReceipts: false
historySettings:
  historyEnabled: true
  historyLimit: 20
guardrails:
  globalModeration: true
  maxMessageSize: ${MAX_SIZE}
  messageRateLimit: 100000
`;

describe('hub settings through the daemon', () => {
  let hubs;
  let d;

  const open = (hub, user, claims = {}) => connect(d.url, `/hub/${hub}`, { token: tokenOf(user, claims), path: IO_PATH });
  const join = async (hub, user, roomId, claims = {}) => {
    const s = await open(hub, user, claims);
    const ack = await emitWithAck(s, 'hub:join', { roomId });
    assert.equal(ack.ok, true, `${user} join: ${JSON.stringify(ack)}`);
    await waitForEvent(s, 'hub:joined', (x) => x.roomId === roomId);
    return s;
  };

  before(async () => {
    hubs = await tempDir('hubd-e2e-limits-hubs-');
    await writeFile(path.join(hubs, 'town.yaml'), TOWN);
    await writeOpenHub(hubs, 'idle', { description: 'Idle connections are dropped.', guardrails: { connectionTimeout: 1500 } });
    d = await startFeatures({
      hubs,
      env: { HUBD_SOCKETIO__PATH: IO_PATH, HUBD_SOCKETIO__PINGINTERVAL: '20s' },
    });
  });

  after(async () => {
    disconnectAll();
    await d?.close();
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  test('socketio.path: clients connect on the configured path, not on /socket.io/', async () => {
    const hs = await engineHandshake(d.url, { path: IO_PATH });
    assert.equal(typeof hs.sid, 'string');
    const res = await fetch(`${d.url}/socket.io/?EIO=4&transport=polling`);
    await res.text();
    assert.notEqual(res.status, 200, 'the default path is not served');
    const err = await connectError(d.url, '/hub/town', { token: tokenOf('alice'), timeoutMs: 3000 });
    assert.ok(err instanceof Error);
  });

  // Under globalModeration a moderator's own message is pending too; a
  // moderator (here the sender) approves it.
  const publish = async (mod, room, body) => {
    const m = await sendText(mod, room, body);
    assert.equal(m.status, 'pending');
    const ok = await emitWithAck(mod, 'hub:approve', { roomId: room, messageId: m.id });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    return ok.message;
  };

  test('globalModeration: every message is pending, a moderator’s own included, until a moderator approves it', async () => {
    const room = FROOMS.general;
    const mod = await join('town', 'admin', room, { roleId: 'mod' });
    const alice = await join('town', 'alice', room);
    const bob = await join('town', 'bob', room);

    const ack = await emitWithAck(alice, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'please approve' } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(ack.message.status, 'pending');
    await waitForEvent(mod, 'hub:pendingMessage', (x) => x.message.id === ack.message.id);

    const modMsg = await publish(mod, room, 'from the moderator');
    assert.equal(modMsg.status, 'published');
    for (const s of [alice, bob, mod]) await waitForEvent(s, 'hub:messageArrived', (x) => x.message.id === modMsg.id);
    // The moderator's message was published after the pending one was
    // sent: had the pending one been broadcast, it would be here already.
    for (const s of [alice, bob, mod]) {
      assert.equal(eventsNamed(s, 'hub:messageArrived', (x) => x.message.id === ack.message.id).length, 0);
    }
    assert.equal(eventsNamed(bob, 'hub:pendingMessage').length, 0, 'members get no pending messages');

    const ok = await emitWithAck(mod, 'hub:approve', { roomId: room, messageId: ack.message.id });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    await waitForEvent(bob, 'hub:messageArrived', (x) => x.message.id === ack.message.id);
  });

  test('connectionTimeout: an idle client gets IDLE_TIMEOUT and is disconnected, an active one stays', async () => {
    const idle = await join('idle', 'alice', FROOMS.random);
    const active = await join('idle', 'bob', FROOMS.random);
    let stop = false;
    const keepBusy = (async () => {
      while (!stop) {
        const ack = await emitWithAck(active, 'hub:loadHistory', { roomId: FROOMS.random });
        assert.equal(ack.ok, true);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      const t0 = Date.now();
      const err = await waitForEvent(idle, 'hub:error', (x) => x.code === 'IDLE_TIMEOUT', 10_000);
      assert.equal(err.code, 'IDLE_TIMEOUT');
      assert.ok(Date.now() - t0 >= 1000, `dropped after ${Date.now() - t0} ms, before the 1500 ms timeout`);
      assert.equal(await waitForDisconnect(idle), 'io server disconnect');
      // Two more idle periods: the active client is still there.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(active.connected, true, 'the active client was disconnected');
      assert.equal(eventsNamed(active, 'hub:error', (x) => x.code === 'IDLE_TIMEOUT').length, 0);
    } finally {
      stop = true;
      await keepBusy;
    }
  });

  test('ephemeral signal cap: 30 signals in 10 s accepted, the 31st is RATE_LIMITED with retryAfterMs', async () => {
    const room = FROOMS.room1;
    const s = await join('town', 'carol', room);
    const acks = [];
    for (let i = 0; i < 30; i++) {
      acks.push(await emitWithAck(s, 'hub:event', { roomId: room, event: i % 2 ? 'recording' : 'typing' }));
    }
    assert.deepEqual(
      acks.map((a) => a.ok),
      Array(30).fill(true),
      JSON.stringify(acks.find((a) => !a.ok)),
    );
    const over = await emitWithAck(s, 'hub:event', { roomId: room, event: 'typing' });
    assert.equal(over.ok, false, 'signal 31 must be refused');
    assert.equal(over.error.code, 'RATE_LIMITED');
    const retry = over.error.details?.retryAfterMs ?? over.error.retryAfterMs;
    assert.ok(retry > 0 && retry <= 10_000, `retryAfterMs ${retry}`);
  });

  test('recording indicators reach the others, and stop on stopRecording', async () => {
    const room = FROOMS.room2;
    const alice = await join('town', 'alice', room);
    const bob = await join('town', 'bob', room);
    const ack = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'recording' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const rec = await waitForEvent(bob, 'hub:recording', (x) => x.roomId === room);
    assert.equal(rec.userId, PEOPLE.alice.userId);
    const stopAck = await emitWithAck(alice, 'hub:event', { roomId: room, event: 'stopRecording' });
    assert.equal(stopAck.ok, true, JSON.stringify(stopAck));
    await waitForEvent(bob, 'hub:stopRecording', (x) => x.roomId === room && x.userId === PEOPLE.alice.userId);
    assert.equal(eventsNamed(alice, 'hub:recording').length, 0, 'the sender gets no indicator');
  });

  test('a hub:send packet larger than maxMessageSize + 4 KiB is MESSAGE_TOO_LARGE and the connection stays', async () => {
    const room = FROOMS.room3;
    const s = await join('town', 'admin', room, { roleId: 'mod' });
    await refusedWith(
      s,
      'hub:send',
      { roomId: room, messageType: 'text', content: { body: 'x'.repeat(MAX_SIZE + SLACK + 100) } },
      'MESSAGE_TOO_LARGE',
    );
    assert.equal(s.connected, true);
    // The cap is on the whole packet: small content with a large envelope.
    const under = await emitWithAck(s, 'hub:send', {
      roomId: room,
      messageType: 'text',
      content: { body: 'small' },
      clientMessageId: 'p'.repeat(1000),
    });
    assert.notEqual(under.error?.code, 'MESSAGE_TOO_LARGE', `a packet under the cap: ${JSON.stringify(under)}`);
    await refusedWith(
      s,
      'hub:send',
      { roomId: room, messageType: 'text', content: { body: 'small' }, clientMessageId: 'p'.repeat(MAX_SIZE + SLACK + 100) },
      'MESSAGE_TOO_LARGE',
    );
    assert.equal(s.connected, true);
    const m = await publish(s, room, 'still here');
    assert.equal(m.status, 'published');
  });

  test('toggles off: receipts are UNKNOWN_EVENT, replyTo and forwarded are refused', async () => {
    const room = FROOMS.room4;
    const alice = await join('town', 'admin', room, { roleId: 'mod' });
    const bob = await join('town', 'bob', room);
    const first = await publish(alice, room, 'first');
    await waitForEvent(bob, 'hub:messageArrived', (x) => x.message.id === first.id);
    const mark = bob.received.length;
    await refusedWith(alice, 'hub:event', { roomId: room, event: 'messageRead', data: { lastReadTimestamp: first.timestamp } }, 'UNKNOWN_EVENT');
    await refusedWith(alice, 'hub:event', { roomId: room, event: 'messageDelivered', data: { messageId: first.id } }, 'UNKNOWN_EVENT');
    const reply = await emitWithAck(alice, 'hub:send', {
      roomId: room,
      messageType: 'text',
      content: { body: 'a reply' },
      replyTo: { id: first.id },
    });
    assert.equal(reply.ok, false, `replyTo accepted with enableReplyTo false: ${JSON.stringify(reply)}`);
    assert.equal(reply.error.code, 'INVALID_MESSAGE');
    const fwd = await emitWithAck(alice, 'hub:send', {
      roomId: room,
      messageType: 'text',
      content: { body: 'forwarded' },
      forwarded: true,
    });
    assert.equal(fwd.ok, false, `forwarded accepted with enableForwarded false: ${JSON.stringify(fwd)}`);
    assert.equal(fwd.error.code, 'INVALID_MESSAGE');
    // Nothing of it reached bob; a later message does.
    const last = await publish(alice, room, 'last');
    await waitForEvent(bob, 'hub:messageArrived', (x) => x.message.id === last.id);
    const names = bob.received.slice(mark).map((e) => e.name);
    assert.deepEqual(names, ['hub:messageArrived'], `bob received ${names}`);
  });
});
