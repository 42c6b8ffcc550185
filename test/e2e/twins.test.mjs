// REST routes with a socket twin pass through the socket event's
// pre-check (toggle, permission, rate class): each refusal is the same
// code and message on both paths, over websocket and polling.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, makeToken, tempDir, waitForEvent } from './lib/harness.mjs';
import { FROOMS, startFeatures } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

const ROOM = FROOMS.room1;

function hubSpec(name, { reactions }) {
  return `hubBasics:
  name: ${name}
roomSettings:
  roomDataObject: chatRoom
  roomEligibility: chatRoom.chatEnabled == true
  authScripts:
    - {name: quiet, script: 'user.tier == "quiet"', hubRole: quiet}
    - {name: blind, script: 'user.tier == "blind"', hubRole: blind}
    - {name: probation, script: 'user.tier == "probation"', hubRole: probation}
    - {name: members, script: 'user.userId != ""', hubRole: member}
hubRoles:
  - {name: member, canRead: true, canSend: true}
  - {name: quiet, canRead: true, canSend: false}
  - {name: blind, canRead: false, canSend: true}
  - {name: probation, canRead: true, canSend: true, moderated: true}
messageSettings:
  messageTypes: [text]
  enableReaction: ${reactions}
guardrails:
  messageRateLimit: 3
`;
}

let hubd;

before(async () => {
  const hubs = await tempDir('hubd-twins-');
  await writeFile(path.join(hubs, 'twins.yaml'), hubSpec('twins', { reactions: true }));
  await writeFile(path.join(hubs, 'twinsoff.yaml'), hubSpec('twinsoff', { reactions: false }));
  hubd = await startFeatures({ hubs });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

function person(tier = 'member') {
  return { userId: `u-${tier}-${randomUUID().slice(0, 8)}`, roleId: 'user', tier };
}

async function joined(hub, u, transport) {
  const s = await connect(hubd.url, `/hub/${hub}`, { transport, token: makeToken(u) });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOM });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await waitForEvent(s, 'hub:joined', (d) => d.roomId === ROOM);
  return s;
}

// TWINS: each socket event with a REST twin; rest(id) is [method, route,
// body] and socket(id) the event's payload, for the message id.
const TWINS = {
  'hub:loadHistory': { rest: () => ['GET', `/rooms/${ROOM}/messages`], socket: () => ({ roomId: ROOM }) },
  'hub:send': {
    rest: () => ['POST', `/rooms/${ROOM}/messages`, { messageType: 'text', content: { body: 'x' } }],
    socket: () => ({ roomId: ROOM, messageType: 'text', content: { body: 'x' } }),
  },
  'hub:edit': {
    rest: (id) => ['PATCH', `/messages/${id}`, { content: { body: 'y' } }],
    socket: (id) => ({ roomId: ROOM, messageId: id, content: { body: 'y' } }),
  },
  'hub:react': {
    rest: (id) => ['POST', `/messages/${id}/reactions`, { emoji: '👍' }],
    socket: (id) => ({ roomId: ROOM, messageId: id, emoji: '👍' }),
  },
  'hub:approve': { rest: (id) => ['POST', `/messages/${id}/approve`], socket: (id) => ({ roomId: ROOM, messageId: id }) },
  'hub:reject': { rest: (id) => ['POST', `/messages/${id}/reject`, {}], socket: (id) => ({ roomId: ROOM, messageId: id }) },
  'hub:block': { rest: () => ['POST', `/rooms/${ROOM}/blocks`, { userId: 'someone' }], socket: () => ({ roomId: ROOM, userId: 'someone' }) },
  'hub:unblock': { rest: () => ['DELETE', `/rooms/${ROOM}/blocks/someone`], socket: () => ({ roomId: ROOM, userId: 'someone' }) },
  'hub:silence': { rest: () => ['POST', `/rooms/${ROOM}/silences`, { userId: 'someone' }], socket: () => ({ roomId: ROOM, userId: 'someone' }) },
  'hub:unsilence': { rest: () => ['DELETE', `/rooms/${ROOM}/silences/someone`], socket: () => ({ roomId: ROOM, userId: 'someone' }) },
  'hub:kick': { rest: () => ['POST', `/rooms/${ROOM}/kicks`, { userId: 'someone' }], socket: () => ({ roomId: ROOM, userId: 'someone' }) },
  'hub:updateRoom': { rest: () => ['PATCH', `/rooms/${ROOM}`, { settings: { topic: 't' } }], socket: () => ({ roomId: ROOM, settings: { topic: 't' } }) },
};

// CASES: who is refused what, and with which code.
const CASES = [
  { name: 'toggle off', hub: 'twinsoff', tier: 'member', code: 'UNKNOWN_EVENT', status: 404, events: ['hub:react'] },
  { name: 'no canSend', hub: 'twins', tier: 'quiet', code: 'FORBIDDEN', status: 403, events: ['hub:send', 'hub:edit'] },
  { name: 'no canRead', hub: 'twins', tier: 'blind', code: 'FORBIDDEN', status: 403, events: ['hub:loadHistory', 'hub:react'] },
  {
    name: 'no canModerate',
    hub: 'twins',
    tier: 'member',
    code: 'FORBIDDEN',
    status: 403,
    events: ['hub:approve', 'hub:reject', 'hub:block', 'hub:unblock', 'hub:silence', 'hub:unsilence'],
  },
  { name: 'no canManageRoom', hub: 'twins', tier: 'member', code: 'FORBIDDEN', status: 403, events: ['hub:kick', 'hub:updateRoom'] },
];

// aMessage stores a message in the hub's room, sent by a fresh member.
async function aMessage(hub) {
  const rest = new RestClient(hubd, hub);
  const res = await rest.post(`/rooms/${ROOM}/messages`, { messageType: 'text', content: { body: 'target' } }, { token: makeToken(person()) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.message.id;
}

// same asserts that the socket event and its REST twin are refused alike.
async function same(rest, token, s, event, id, code, status) {
  const [method, route, body] = TWINS[event].rest(id);
  const res = await rest.call(method, route, { token, body });
  const ack = await emitWithAck(s, event, TWINS[event].socket(id));
  assert.equal(ack.ok, false, `${event} over the socket: ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, code, `${event} over the socket: ${JSON.stringify(ack)}`);
  assert.equal(res.status, status, `${method} ${route}: ${JSON.stringify(res.body)}`);
  assert.deepEqual(
    { code: res.body.error.code, message: res.body.error.message },
    { code: ack.error.code, message: ack.error.message },
    `${event} and ${method} ${route} refused alike`,
  );
}

for (const transport of ['websocket', 'polling']) {
  for (const c of CASES) {
    test(`${transport}: ${c.name}: ${c.events.join(', ')} refused alike over REST and the socket`, async () => {
      const id = await aMessage(c.hub);
      const u = person(c.tier);
      const s = await joined(c.hub, u, transport);
      const rest = new RestClient(hubd, c.hub);
      for (const event of c.events) await same(rest, makeToken(u), s, event, id, c.code, c.status);
      // A route toggled off is left out of the hub's document.
      if (c.name !== 'toggle off') await rest.validateExchanges();
    });
  }

  test(`${transport}: the message rate class is one budget for REST and the socket`, async () => {
    const u = person();
    const token = makeToken(u);
    const s = await joined('twins', u, transport);
    const rest = new RestClient(hubd, 'twins');
    const first = await rest.post(`/rooms/${ROOM}/messages`, { messageType: 'text', content: { body: '1' } }, { token });
    assert.equal(first.status, 201);
    const id = first.body.message.id;
    const ack = await emitWithAck(s, 'hub:send', TWINS['hub:send'].socket());
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const edit = await rest.patch(`/messages/${id}`, { content: { body: 'edited' } }, { token });
    assert.equal(edit.status, 200, 'the third write of the minute');
    for (const event of ['hub:send', 'hub:edit', 'hub:react']) {
      const [method, route, body] = TWINS[event].rest(id);
      const res = await rest.call(method, route, { token, body });
      const sack = await emitWithAck(s, event, TWINS[event].socket(id));
      assert.equal(res.status, 429, `${method} ${route}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'RATE_LIMITED');
      assert.equal(sack.ok, false);
      assert.equal(sack.error.code, 'RATE_LIMITED', `${event}: ${JSON.stringify(sack)}`);
      assert.equal(res.body.error.message, sack.error.message);
    }
    await rest.validateExchanges();
  });
}
