// Two hubd nodes sharing rooms, rate limits and the auth cache through
// Redis, both on one PostgreSQL message store and one PostgreSQL record
// source; and the Redis session resolver.

import assert from 'node:assert/strict';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  connectError,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  psql,
  tempDir,
  uniqueSchema,
  waitForEvent,
} from './lib/harness.mjs';
import {
  connectAs,
  FEATURES,
  FROOMS,
  joinAs,
  PEOPLE,
  refusedWith,
  sendText,
  startFeatures,
  tokenOf,
} from './lib/features.mjs';
import { NEEDS_PG_AND_REDIS, openHubSpec, startNodes } from './lib/cluster.mjs';
import { ROOMS } from './lib/fixtures.mjs';
import { ident, literal, recordsSQL } from './lib/pgrecords.mjs';
import { deleteKeys, redis, uniquePrefix } from './lib/redis.mjs';
import { RestClient } from './lib/rest.mjs';

const skip = NEEDS_PG_AND_REDIS;

const RATE_LIMIT = 6;

/** A hub reading chatRoom/chatMember records; description varies per write. */
function relaySpec(name, { description = 'Two nodes, one room.', rateLimit = 100000 } = {}) {
  return `hubBasics:
  name: ${name}
  description: ${description}
roomSettings:
  roomDataObject: chatRoom
  roomEligibility: chatRoom.chatEnabled == true
  authSources:
    - name: activeMember
      sourceObject: chatMember
      userField: userId
      roomField: roomId
      condition: chatMember.status == "active"
      hubRole: member
hubRoles:
  - name: member
    canRead: true
    canSend: true
messageSettings:
  messageTypes:
    - text
historySettings:
  historyEnabled: true
  historyLimit: 50
guardrails:
  messageRateLimit: ${rateLimit}
  authCacheTTL: 300
`;
}

/** Everyone may join; presence on; room and per-user limits. */
const LOBBY = openHubSpec('lobby', {
  description: 'Presence and limits across two nodes.',
  role: 'player',
  presence: true,
  guardrails: { maxUsersPerRoom: 2, maxRoomsPerUser: 2 },
});
const GRACE_MS = 3000;

describe('two nodes through Redis', { skip }, () => {
  let hubs;
  let recSchema;
  let msgSchema;
  let prefix;
  let a;
  let b;

  before(async () => {
    hubs = await tempDir('hubd-e2e-cluster-hubs-');
    await writeFile(path.join(hubs, 'relay.yaml'), relaySpec('relay'));
    await writeFile(path.join(hubs, 'metered.yaml'), relaySpec('metered', { rateLimit: RATE_LIMIT }));
    await copyFile(path.join(FEATURES.hubs, 'webinar.yaml'), path.join(hubs, 'webinar.yaml'));
    await writeFile(path.join(hubs, 'lobby.yaml'), LOBBY);
    recSchema = uniqueSchema('e2e_crec');
    msgSchema = uniqueSchema('e2e_cmsg');
    psql(await recordsSQL(FEATURES.records, recSchema));
    prefix = uniquePrefix();
    [a, b] = await startNodes(2, {
      hubs,
      redisAddr: process.env.HUBD_TEST_REDIS_ADDR,
      redisPrefix: prefix,
      pgSchema: msgSchema,
      env: { HUBD_RECORDSOURCE__KIND: 'postgres', HUBD_RECORDSOURCE__SCHEMA: recSchema },
    });
  });

  after(async () => {
    disconnectAll();
    await a?.close();
    await b?.close();
    if (recSchema) psql(`DROP SCHEMA IF EXISTS ${ident(recSchema)} CASCADE;`);
    if (msgSchema) psql(`DROP SCHEMA IF EXISTS ${ident(msgSchema)} CASCADE;`);
    if (prefix) deleteKeys(prefix);
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  for (const [ta, tb, roomName] of [
    ['websocket', 'websocket', 'general'],
    ['polling', 'upgrade', 'history'],
  ]) {
    test(`a message sent on one node reaches the room on the other exactly once, both ways (A ${ta}, B ${tb})`, async () => {
      const room = ROOMS[roomName];
      const { socket: onA } = await joinAs(a, 'relay', 'alice', room, { transport: ta });
      const { socket: onB } = await joinAs(b, 'relay', 'bob', room, { transport: tb });

      const fromA = await sendText(onA, room, 'from node A');
      const fromB = await sendText(onB, room, 'from node B');
      // Markers sent after the messages: once they arrived, any duplicate
      // would have arrived too (one room, one ordered stream per node).
      const markA = await sendText(onA, room, 'marker A');
      const markB = await sendText(onB, room, 'marker B');
      for (const s of [onA, onB]) {
        for (const m of [markA, markB]) {
          await waitForEvent(s, 'hub:messageArrived', (d) => d.message.id === m.id);
        }
      }
      for (const [s, who] of [
        [onA, 'alice on A'],
        [onB, 'bob on B'],
      ]) {
        for (const m of [fromA, fromB]) {
          const got = eventsNamed(s, 'hub:messageArrived', (d) => d.message.id === m.id);
          assert.equal(got.length, 1, `${who} received ${m.content.body} ${got.length} times`);
          assert.deepEqual(got[0].message.content, m.content);
          assert.equal(got[0].sender.id, m.senderId);
        }
      }
      // One store: seq is one sequence across the nodes.
      assert.ok(fromB.seq > fromA.seq, `seq ${fromA.seq} then ${fromB.seq}`);
      // Either node's history has all four, in order.
      const hist = await emitWithAck(onB, 'hub:loadHistory', { roomId: room });
      assert.equal(hist.ok, true, JSON.stringify(hist));
      const ids = hist.messages.map((m) => m.id);
      assert.deepEqual(ids.slice(-4), [fromA.id, fromB.id, markA.id, markB.id]);
    });
  }

  test('messageRateLimit holds across the nodes: N accepted in total, N+1 rejected', async () => {
    const room = FROOMS.random;
    const { socket: onA } = await joinAs(a, 'metered', 'alice', room);
    const { socket: onB } = await joinAs(b, 'metered', 'alice', room);
    const acks = [];
    for (let i = 0; i < RATE_LIMIT; i++) {
      const s = i % 2 === 0 ? onA : onB;
      acks.push(await emitWithAck(s, 'hub:send', { roomId: room, messageType: 'text', content: { body: `m${i}` } }));
    }
    assert.deepEqual(
      acks.map((x) => x.ok),
      Array(RATE_LIMIT).fill(true),
      JSON.stringify(acks.filter((x) => !x.ok)),
    );
    for (const s of [onA, onB]) {
      const over = await emitWithAck(s, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'one too many' } });
      assert.equal(over.ok, false, 'message N+1 must be refused on either node');
      assert.equal(over.error.code, 'RATE_LIMITED');
      assert.ok(over.error.details?.retryAfterMs > 0 || over.error.retryAfterMs > 0, JSON.stringify(over.error));
    }
  });

  test('moderation reaches members connected through the other node', async () => {
    const room = FROOMS.room4;
    const BOB = PEOPLE.bob.userId;
    const CAROL = PEOPLE.carol.userId;
    const host = (await joinAs(a, 'webinar', 'alice', room, { claims: { roleId: 'host' } })).socket;
    const bob = (await joinAs(b, 'webinar', 'bob', room)).socket;
    const carol = (await joinAs(b, 'webinar', 'carol', room)).socket;
    const ok = (ack) => assert.equal(ack.ok, true, JSON.stringify(ack));
    const text = (body) => ({ roomId: room, messageType: 'text', content: { body } });

    // A speak request on B reaches the moderator on A.
    ok(await emitWithAck(bob, 'hub:requestSpeak', { roomId: room }));
    await waitForEvent(host, 'hub:speakRequest', (d) => d.userId === BOB && d.roomId === room);
    // Unsilenced from A: B lets bob speak; his message waits for the
    // moderator on A, who rejects it; bob on B hears why.
    ok(await emitWithAck(host, 'hub:unsilence', { roomId: room, userId: BOB }));
    await waitForEvent(bob, 'hub:unsilenced', (d) => d.roomId === room);
    const m = await sendText(bob, room, 'from node B');
    assert.equal(m.status, 'pending');
    await waitForEvent(host, 'hub:pendingMessage', (d) => d.message.id === m.id);
    ok(await emitWithAck(host, 'hub:reject', { roomId: room, messageId: m.id, reason: 'off topic' }));
    const rej = await waitForEvent(bob, 'hub:messageRejected', (d) => d.messageId === m.id);
    assert.equal(rej.reason, 'off topic');
    // Silenced again from A: B refuses his next message.
    ok(await emitWithAck(host, 'hub:silence', { roomId: room, userId: BOB }));
    await waitForEvent(bob, 'hub:silenced', (d) => d.roomId === room);
    await refusedWith(bob, 'hub:send', text('still here'), 'SILENCED');

    // A kick over REST on node A removes carol from node B.
    const rest = new RestClient(a, 'webinar');
    const res = await rest.post(`/rooms/${room}/kicks`, { userId: CAROL, reason: 'bye' }, { token: tokenOf('alice', { roleId: 'host' }) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const kicked = await waitForEvent(carol, 'hub:kicked', (d) => d.roomId === room);
    assert.equal(kicked.reason, 'bye');
    await refusedWith(carol, 'hub:requestSpeak', { roomId: room }, 'NOT_JOINED');

    // A block on A removes bob from B and keeps him out there.
    ok(await emitWithAck(host, 'hub:block', { roomId: room, userId: BOB, reason: 'spam' }));
    await waitForEvent(bob, 'hub:blocked', (d) => d.roomId === room);
    await refusedWith(bob, 'hub:requestSpeak', { roomId: room }, 'NOT_JOINED');
    await refusedWith(bob, 'hub:join', { roomId: room }, 'BLOCKED');
    ok(await emitWithAck(host, 'hub:unblock', { roomId: room, userId: BOB }));
    // Each event reached its target once, though both nodes apply it.
    for (const [s, ev] of [
      [host, 'hub:speakRequest'],
      [host, 'hub:pendingMessage'],
      [bob, 'hub:unsilenced'],
      [bob, 'hub:messageRejected'],
      [carol, 'hub:kicked'],
      [bob, 'hub:blocked'],
    ]) {
      assert.equal(eventsNamed(s, ev, (d) => d.roomId === room).length, 1, `${ev} once`);
    }
  });

  test('presence lists and the room and per-user limits span the nodes', async () => {
    const room = FROOMS.room5;
    const presence = async (node) => {
      const res = await new RestClient(node, 'lobby').get(`/rooms/${room}/presence`, { token: tokenOf('bob') });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.users.map((u) => `${u.userId === PEOPLE.alice.userId ? 'alice' : u.userId === PEOPLE.bob.userId ? 'bob' : u.userId} ${u.status} ${u.sockets}`).sort();
    };
    await joinAs(a, 'lobby', 'alice', room);
    await joinAs(b, 'lobby', 'bob', room);
    assert.deepEqual(await presence(a), ['alice online 1', 'bob online 1']);
    assert.deepEqual(await presence(b), ['alice online 1', 'bob online 1']);
    // Node A has one member, the room two: full.
    await refusedWith(await connectAs(a, 'lobby', 'carol'), 'hub:join', { roomId: room }, 'ROOM_FULL');
    // alice's second device, through B, takes no new place.
    await joinAs(b, 'lobby', 'alice', room);
    assert.deepEqual(await presence(a), ['alice online 2', 'bob online 1']);
    // dave's rooms count over both nodes.
    await joinAs(a, 'lobby', 'dave', FROOMS.room6);
    await joinAs(b, 'lobby', 'dave', FROOMS.room7);
    await refusedWith(await connectAs(a, 'lobby', 'dave'), 'hub:join', { roomId: FROOMS.room8 }, 'TOO_MANY_ROOMS');
  });

  test('a user still connected through the other node does not go offline', async () => {
    const room = FROOMS.room9;
    const ALICE = PEOPLE.alice.userId;
    const { socket: bob } = await joinAs(a, 'lobby', 'bob', room);
    const { socket: onA } = await joinAs(a, 'lobby', 'alice', room);
    await waitForEvent(bob, 'hub:online', (d) => d.userId === ALICE);
    const { socket: onB } = await joinAs(b, 'lobby', 'alice', room);
    onA.disconnect();
    // Past the grace period, and a round trip through both nodes later.
    await new Promise((r) => setTimeout(r, GRACE_MS + 500));
    await emitWithAck(bob, 'hub:join', { roomId: room });
    await emitWithAck(onB, 'hub:join', { roomId: room });
    assert.equal(eventsNamed(bob, 'hub:offline', (d) => d.userId === ALICE).length, 0, 'alice is still here through B');
    assert.equal(eventsNamed(bob, 'hub:online', (d) => d.userId === ALICE).length, 1, 'joining through B announced nothing');
    onB.disconnect();
    await waitForEvent(bob, 'hub:offline', (d) => d.userId === ALICE, GRACE_MS + 5000);
  });

  test('away through one node while online through the other is not announced', async () => {
    const room = FROOMS.room10;
    const ALICE = PEOPLE.alice.userId;
    const { socket: carol } = await joinAs(a, 'lobby', 'carol', room);
    const { socket: onA } = await joinAs(a, 'lobby', 'alice', room);
    const { socket: onB } = await joinAs(b, 'lobby', 'alice', room);
    let ack = await emitWithAck(onA, 'hub:event', { roomId: room, event: 'away' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    ack = await emitWithAck(onB, 'hub:event', { roomId: room, event: 'away' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    // Back through B: once carol hears it, B's earlier events reached her too.
    const mark = carol.received.length;
    ack = await emitWithAck(onB, 'hub:event', { roomId: room, event: 'back' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitForEvent(carol, 'hub:online', (d) => d.userId === ALICE, undefined, { after: mark });
    assert.equal(eventsNamed(carol, 'hub:away', (d) => d.userId === ALICE).length, 1, 'announced once, when away through both nodes');
  });

  test('a grant cached on one node is used by the other; a spec change through SIGHUP invalidates it', async () => {
    const room = FROOMS.room3;
    const join = async (node) => {
      const s = await connectAs(node, 'relay', 'mallory');
      const ack = await emitWithAck(s, 'hub:join', { roomId: room });
      s.disconnect();
      return ack.ok ? 'ok' : ack.error.code;
    };
    assert.equal(await join(a), 'FORBIDDEN', 'mallory has no membership yet');
    psql(
      `INSERT INTO ${ident(recSchema)}."chatMember" (id, "userId", "roomId", status) VALUES ('cache-1', ${literal(PEOPLE.mallory.userId)}, ${literal(room)}, 'active');`,
    );
    assert.equal(await join(a), 'ok', 'the new membership grants the join on A');
    psql(`DELETE FROM ${ident(recSchema)}."chatMember" WHERE id = 'cache-1';`);
    // B never decided this join: only the shared cache can grant it now.
    assert.equal(await join(b), 'ok', "B uses the grant A cached in Redis");
    assert.ok(redis('--scan', '--pattern', `${prefix}authz:relay:*`).length > 0, 'the grant is a Redis key');

    await writeFile(path.join(hubs, 'relay.yaml'), relaySpec('relay', { description: 'Changed spec.' }));
    const res = await b.reload();
    assert.equal(res.msg, 'reload complete', JSON.stringify(res));
    assert.equal(await join(b), 'FORBIDDEN', 'B authorizes afresh after the spec change');
    assert.equal(await join(a), 'FORBIDDEN', 'the invalidation is shared: A authorizes afresh too');
  });
});

describe('Redis session resolver', { skip }, () => {
  let d;
  const keyPrefix = `${uniquePrefix()}session:`;

  before(async () => {
    d = await startFeatures({
      env: {
        HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR,
        HUBD_REDIS__PREFIX: `${keyPrefix}hubd:`,
        HUBD_AUTH__SESSION__RESOLVER: 'redis',
        HUBD_AUTH__SESSION__REDISKEY: `${keyPrefix}{sessionId}`,
      },
    });
  });

  after(async () => {
    disconnectAll();
    await d?.close();
    deleteKeys(keyPrefix);
  });

  test('the session record from Redis decides the role: admin takes the absoluteRoles path', async () => {
    redis(
      'SET',
      `${keyPrefix}s-admin`,
      JSON.stringify({ userId: PEOPLE.mallory.userId, roleId: 'superAdmin' }),
    );
    // The token itself says roleId user, which gate refuses for mallory.
    const s = await connectAs(d, 'gate', 'mallory', { claims: { sessionId: 's-admin' } });
    const ack = await emitWithAck(s, 'hub:join', { roomId: FROOMS.random });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(ack.hubRole, 'system');

    redis('SET', `${keyPrefix}s-user`, JSON.stringify({ userId: PEOPLE.mallory.userId, roleId: 'user' }));
    const plain = await connectAs(d, 'gate', 'mallory', { claims: { sessionId: 's-user', roleId: 'superAdmin' } });
    const refused = await emitWithAck(plain, 'hub:join', { roomId: FROOMS.random });
    assert.equal(refused.ok, false, 'the stored roleId user replaces the token claim superAdmin');
    assert.equal(refused.error.code, 'FORBIDDEN');
  });

  test('a token whose session record is missing gets connect_error Invalid token', async () => {
    const err = await connectError(d.url, '/hub/gate', {
      token: tokenOf('alice', { sessionId: 'no-such-session' }),
    });
    assert.equal(err.message, 'Invalid token');
  });
});
