// Handshake authentication and namespaces, over every transport mode.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  connectError,
  disconnectAll,
  emitWithAck,
  JWT_SECRET,
  makeToken,
  startDaemon,
  TRANSPORT_NAMES,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor, USERS } from './lib/fixtures.mjs';

let hubd;

before(async () => {
  hubd = await startDaemon();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

/** Joins general and returns the ack: proves the session is alice's. */
async function joinAsProof(socket) {
  const ack = await emitWithAck(socket, 'hub:join', { roomId: ROOMS.general });
  assert.equal(ack.ok, true, `join failed: ${JSON.stringify(ack)}`);
  return ack;
}

for (const transport of TRANSPORT_NAMES) {
  describe(`handshake over ${transport}`, () => {
    test('auth.token is accepted', async () => {
      const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('alice') });
      assert.equal(s.connected, true);
      if (transport !== 'polling') assert.equal(s.io.engine.transport.name, 'websocket');
      else assert.equal(s.io.engine.transport.name, 'polling');
      await joinAsProof(s);
      s.disconnect();
    });

    test('Authorization: Bearer header is accepted', async () => {
      const s = await connect(hubd.url, NSP.chat, {
        transport,
        headers: { Authorization: `Bearer ${tokenFor('alice')}` },
      });
      await joinAsProof(s);
      s.disconnect();
    });

    test('token query parameter is accepted', async () => {
      const s = await connect(hubd.url, NSP.chat, { transport, query: { token: tokenFor('alice') } });
      await joinAsProof(s);
      s.disconnect();
    });

    test('auth.token wins over header and query', async () => {
      const bad = makeToken(USERS.alice, { secret: 'not-the-secret' });
      const s = await connect(hubd.url, NSP.chat, {
        transport,
        token: tokenFor('alice'),
        headers: { Authorization: `Bearer ${bad}` },
        query: { token: bad },
      });
      await joinAsProof(s);
      s.disconnect();
    });

    test('missing token is refused with "Authentication required"', async () => {
      const err = await connectError(hubd.url, NSP.chat, { transport });
      assert.equal(err.message, 'Authentication required');
    });

    const badTokens = [
      { name: 'wrong secret', token: () => makeToken(USERS.alice, { secret: `${JWT_SECRET}-other` }) },
      { name: 'expired', token: () => makeToken(USERS.alice, { ttlSeconds: -3600 }) },
      { name: 'garbage', token: () => 'not.a.jwt' },
      {
        name: 'tampered payload',
        token: () => {
          const [h, , sig] = tokenFor('alice').split('.');
          const p = Buffer.from(JSON.stringify({ ...USERS.admin, exp: 4102444800 })).toString('base64url');
          return `${h}.${p}.${sig}`;
        },
      },
    ];
    for (const bt of badTokens) {
      test(`bad token (${bt.name}) is refused with "Invalid token"`, async () => {
        const err = await connectError(hubd.url, NSP.chat, { transport, token: bt.token() });
        assert.equal(err.message, 'Invalid token');
      });
    }

    test('bad Bearer header is refused with "Invalid token"', async () => {
      const err = await connectError(hubd.url, NSP.chat, {
        transport,
        headers: { Authorization: 'Bearer not.a.jwt' },
      });
      assert.equal(err.message, 'Invalid token');
    });

    test('unknown hub namespace is refused', async () => {
      const err = await connectError(hubd.url, '/hub/doesNotExist', { transport, token: tokenFor('alice') });
      assert.ok(err instanceof Error);
      assert.notEqual(err.message, '');
    });

    test('namespace with a path prefix reaches the same hub', async () => {
      const s = await connect(hubd.url, '/chat-api/hub/chat', { transport, token: tokenFor('alice') });
      const ack = await joinAsProof(s);
      assert.equal(ack.roomId, ROOMS.general);
      s.disconnect();
    });

    test('two hubs are independent namespaces', async () => {
      const chat = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('mallory') });
      const lobby = await connect(hubd.url, NSP.lobby, { transport, token: tokenFor('mallory') });
      // mallory has no membership: refused in chat, admitted by lobby's authScript
      const denied = await emitWithAck(chat, 'hub:join', { roomId: ROOMS.general });
      assert.equal(denied.ok, false);
      assert.equal(denied.error.code, 'FORBIDDEN');
      const admitted = await emitWithAck(lobby, 'hub:join', { roomId: ROOMS.general });
      assert.equal(admitted.ok, true, JSON.stringify(admitted));
      chat.disconnect();
      lobby.disconnect();
    });
  });
}

describe('daemon endpoints', () => {
  for (const p of ['/-/healthy', '/-/ready']) {
    test(`${p} answers 200 on the public and the admin listener`, async () => {
      for (const base of [hubd.url, hubd.adminUrl]) {
        const res = await fetch(base + p);
        assert.equal(res.status, 200, base + p);
      }
    });
  }

  test('/metrics exposes hubd metrics on the admin listener', async () => {
    const res = await fetch(`${hubd.adminUrl}/metrics`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^hubd_/m);
  });

  test('/debug/pprof/ serves profiles on the admin listener', async () => {
    const res = await fetch(`${hubd.adminUrl}/debug/pprof/goroutine?debug=1`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^goroutine profile: total \d+/);
  });

  for (const [method, p] of [
    ['GET', '/metrics'],
    ['POST', '/-/reload'],
    ['GET', '/debug/pprof/'],
    ['GET', '/debug/pprof/heap'],
  ]) {
    test(`${method} ${p} answers 404 on the public listener`, async () => {
      const res = await fetch(hubd.url + p, { method, ...(method === 'POST' ? { body: '' } : {}) });
      assert.equal(res.status, 404);
      await res.text();
    });
  }

  test('a cross-site text/plain POST /-/reload from a web page reloads nothing', async () => {
    const res = await fetch(`${hubd.url}/-/reload`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: 'x',
    });
    assert.equal(res.status, 404);
    await res.text();
    assert.ok(!hubd.logs.some((l) => l.msg === 'reload complete' || l.msg === 'reload failed'), 'no reload ran');
  });
});

describe('CORS', () => {
  const page = 'https://page.example';
  const polling = '/socket.io/?EIO=4&transport=polling';

  /** Status and CORS headers of one request with an Origin. */
  async function cors(base, path, { origin = page, method = 'GET' } = {}) {
    const headers = { origin };
    if (method === 'OPTIONS') headers['access-control-request-method'] = 'GET';
    const res = await fetch(base + path, { method, headers });
    await res.text();
    return {
      status: res.status,
      origin: res.headers.get('access-control-allow-origin'),
      credentials: res.headers.get('access-control-allow-credentials'),
    };
  }

  test('allowedOrigins empty: any page connects or calls REST, never with credentials (polling, preflight, REST)', async () => {
    assert.deepEqual(await cors(hubd.url, polling), { status: 200, origin: page, credentials: null });
    assert.deepEqual(await cors(hubd.url, polling, { method: 'OPTIONS' }), { status: 204, origin: page, credentials: null });
    const rest = `/chat/rooms/${ROOMS.general}/messages`;
    assert.deepEqual(await cors(hubd.url, rest), { status: 401, origin: page, credentials: null }, 'REST: the same rule');
    assert.deepEqual(await cors(hubd.url, rest, { method: 'OPTIONS' }), { status: 204, origin: page, credentials: null });
    for (const transport of ['polling', 'websocket']) {
      const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('alice'), headers: { origin: page } });
      await joinAsProof(s);
      s.disconnect();
    }
  });

  test('listed origins: credentials for them, 403 for others (REST: no CORS headers, preflight 403)', async () => {
    const listed = await startDaemon({ env: { HUBD_SOCKETIO__ALLOWED_ORIGINS: page } });
    try {
      assert.deepEqual(await cors(listed.url, polling), { status: 200, origin: page, credentials: 'true' });
      assert.equal((await cors(listed.url, polling, { origin: 'https://evil.example' })).status, 403);
      const rest = `/chat/rooms/${ROOMS.general}/messages`;
      assert.deepEqual(await cors(listed.url, rest), { status: 401, origin: page, credentials: 'true' });
      assert.deepEqual(await cors(listed.url, rest, { origin: 'https://evil.example' }), { status: 401, origin: null, credentials: null });
      assert.equal((await cors(listed.url, rest, { origin: 'https://evil.example', method: 'OPTIONS' })).status, 403);
      for (const transport of ['polling', 'websocket']) {
        const err = await connectError(listed.url, NSP.chat, {
          transport,
          token: tokenFor('alice'),
          headers: { origin: 'https://evil.example' },
        });
        assert.ok(err instanceof Error, transport);
      }
    } finally {
      await listed.close();
    }
  });
});
