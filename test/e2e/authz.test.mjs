// Room authorization through real clients and REST (hub "gate"): every
// layer decides once, each denial names its layer, permissions of the
// granted role are enforced on the socket and over REST alike.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, TRANSPORT_NAMES, waitForEvent } from './lib/harness.mjs';
import { connectAs, FROOMS, joinAs, PEOPLE, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

let hubd;
let rest;

before(async () => {
  hubd = await startFeatures();
  rest = new RestClient(hubd, 'gate');
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const ALL = { canRead: true, canSend: true, moderated: false, canModerate: true, canDeleteAny: true, canManageRoom: true };

// Who joins what, and what the layered authorization must answer.
const CASES = [
  { name: 'eligibility false refuses even absoluteRoles', user: 'admin', room: 'archive', code: 'ROOM_NOT_ELIGIBLE', layer: 'roomEligibility', status: 403 },
  { name: 'unknown room', user: 'alice', room: 'missing', code: 'ROOM_NOT_FOUND', status: 404 },
  { name: 'absoluteRoles get hubRole system with every permission', user: 'admin', room: 'general', role: 'system', perms: ALL },
  { name: 'checkRoles refuses a role it does not list', user: 'erin', claims: { roleId: 'guest' }, room: 'general', code: 'FORBIDDEN', layer: 'checkRoles', status: 403 },
  { name: 'checkScript false refuses', user: 'mallory', claims: { banned: true, vip: true }, room: 'general', code: 'FORBIDDEN', layer: 'checkScript', status: 403 },
  { name: 'the first matching authSource wins', user: 'alice', room: 'general', role: 'owner', perms: ALL },
  { name: 'a second authSource grants its role', user: 'dave', room: 'general', role: 'writer', perms: { canRead: false, canSend: true } },
  { name: 'an authSource with its condition true', user: 'bob', room: 'general', role: 'member', perms: { canRead: true, canSend: true, allowedMessageTypes: ['text'] } },
  { name: 'a false condition falls through to a source with null hubRole: default permissions', user: 'carol', room: 'general', role: null, perms: { canRead: true, canSend: true, allowedMessageTypes: [], canModerate: false } },
  { name: 'an authScript grants', user: 'mallory', claims: { vip: true }, room: 'general', role: 'guest', perms: { canRead: true, canSend: false } },
  { name: 'nothing matched', user: 'mallory', room: 'general', code: 'FORBIDDEN', layer: 'none', status: 403 },
];

function subset(actual, expected, what) {
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(actual?.[k], v, `${what}.${k}: ${JSON.stringify(actual)}`);
  }
}

for (const transport of TRANSPORT_NAMES) {
  describe(`authorization layers over ${transport}`, () => {
    for (const c of CASES) {
      test(c.name, async () => {
        const s = await connectAs(hubd, 'gate', c.user, { transport, claims: c.claims });
        const roomId = FROOMS[c.room];
        if (c.code) {
          const err = await refusedWith(s, 'hub:join', { roomId }, c.code);
          if (c.layer) assert.equal(err.details?.layer, c.layer, JSON.stringify(err));
        } else {
          const ack = await emitWithAck(s, 'hub:join', { roomId });
          assert.equal(ack.ok, true, JSON.stringify(ack));
          assert.equal(ack.hubRole, c.role);
          subset(ack.permissions, c.perms, 'permissions');
          const joined = await waitForEvent(s, 'hub:joined', (d) => d.roomId === roomId);
          assert.equal(joined.hubRole, c.role);
        }
        s.disconnect();
      });
    }
  });
}

describe('authorization over REST gives the same answers', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const res = await rest.get(`/rooms/${FROOMS[c.room]}/messages`, { token: tokenOf(c.user, c.claims) });
      if (c.code) {
        assert.equal(res.status, c.status, JSON.stringify(res.body));
        assert.equal(res.body.error.code, c.code);
        if (c.layer) assert.equal(res.body.error.details?.layer, c.layer, JSON.stringify(res.body));
      } else if (c.perms.canRead === false) {
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'FORBIDDEN');
      } else {
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(Array.isArray(res.body.messages));
      }
    });

    test(`${c.name} (POST messages)`, async () => {
      const body = { messageType: 'text', content: { body: `REST as ${c.user}` } };
      const res = await rest.post(`/rooms/${FROOMS[c.room]}/messages`, body, { token: tokenOf(c.user, c.claims) });
      if (c.code) {
        assert.equal(res.status, c.status, JSON.stringify(res.body));
        assert.equal(res.body.error.code, c.code);
        if (c.layer) assert.equal(res.body.error.details?.layer, c.layer, JSON.stringify(res.body));
      } else if (c.perms.canSend === false) {
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'FORBIDDEN');
      } else {
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.message.senderId, PEOPLE[c.user].userId);
      }
    });
  }
});

describe('permissions of the granted role', () => {
  const room = FROOMS.general;
  let alice;
  let bob;
  let dave;
  let vip;

  before(async () => {
    ({ socket: alice } = await joinAs(hubd, 'gate', 'alice', room));
    ({ socket: bob } = await joinAs(hubd, 'gate', 'bob', room));
    ({ socket: dave } = await joinAs(hubd, 'gate', 'dave', room));
    ({ socket: vip } = await joinAs(hubd, 'gate', 'mallory', room, { claims: { vip: true } }));
  });

  test('a member with canRead false receives nothing from the room', async () => {
    const m = await sendText(alice, room, 'not for dave');
    await waitForEvent(bob, 'hub:messageArrived', (d) => d.message.id === m.id);
    // A later ack on dave's own connection comes after anything the server
    // sent him before it.
    const again = await emitWithAck(dave, 'hub:join', { roomId: room });
    assert.equal(again.ok, true);
    assert.deepEqual(
      dave.received.filter((e) => e.name === 'hub:messageArrived').map((e) => e.data.message.id),
      [],
    );
    // dave may still send (canSend), and the readers get it.
    const d = await sendText(dave, room, 'from a writer');
    await waitForEvent(bob, 'hub:messageArrived', (x) => x.message.id === d.id);
  });

  test('allowedMessageTypes: a member may send text only', async () => {
    await refusedWith(bob, 'hub:send', { roomId: room, messageType: 'image', content: { mediaUrl: 'https://cdn.example.test/a.png' } }, 'TYPE_NOT_ALLOWED');
    await sendText(bob, room, 'text is fine');
    // The owner has no type restriction.
    const ack = await emitWithAck(alice, 'hub:send', { roomId: room, messageType: 'image', content: { mediaUrl: 'https://cdn.example.test/a.png' } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  });

  test('canSend false: FORBIDDEN', async () => {
    await refusedWith(vip, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'hi' } }, 'FORBIDDEN');
  });

  test('the same permission checks over REST', async () => {
    const img = { messageType: 'image', content: { mediaUrl: 'https://cdn.example.test/b.png' } };
    let res = await rest.post(`/rooms/${room}/messages`, img, { token: tokenOf('bob') });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'TYPE_NOT_ALLOWED');
    res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'hi' } }, { token: tokenOf('mallory', { vip: true }) });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'FORBIDDEN');
    res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'over REST' } }, { token: tokenOf('bob') });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitForEvent(alice, 'hub:messageArrived', (d) => d.message.id === res.body.message.id);
    res = await rest.post(`/rooms/${FROOMS.archive}/messages`, { messageType: 'text', content: { body: 'x' } }, { token: tokenOf('admin') });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'ROOM_NOT_ELIGIBLE');
    res = await rest.get(`/rooms/${room}/messages`, {});
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'AUTH_REQUIRED');
  });

  test('every REST response matches /gate/openapi.json', async () => {
    await rest.validateExchanges();
  });
});

test('fixture users are distinct', () => {
  assert.equal(new Set(Object.values(PEOPLE).map((p) => p.userId)).size, Object.keys(PEOPLE).length);
});
