// Token expiry on a live socket: hub:tokenExpiring 30 s before exp, a
// disconnect at exp, hub:refreshToken with a later token of the same user
// keeps the socket, a token of another user is refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  disconnectAll,
  emitWithAck,
  makeToken,
  TRANSPORT_NAMES,
  waitForDisconnect,
  waitForEvent,
} from './lib/harness.mjs';
import { connectAs, FROOMS, joinAs, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';

let hubd;

before(async () => {
  hubd = await startFeatures();
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

const WARNING_S = 30;

/** A token of user expiring in ttl seconds, and its exp as a Date. */
function expiring(user, ttl) {
  const token = tokenOf(user, {}, { ttlSeconds: ttl });
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  return { token, exp: new Date(exp * 1000) };
}

for (const transport of TRANSPORT_NAMES) {
  describe(`token expiry over ${transport}`, () => {
    const room = FROOMS.room12;

    test('a short token gets INVALID_TOKEN and a disconnect at exp', async () => {
      const { token, exp } = expiring('alice', 3);
      const s = await connectAs(hubd, 'ops', 'alice', { transport, token });
      await joinAs(hubd, 'ops', 'alice', room, { socket: s });
      await waitForDisconnect(s, 10_000);
      const late = Date.now() - exp.getTime();
      assert.ok(late > -300, `disconnected ${-late}ms before exp`);
      assert.ok(late < 5000, `disconnected ${late}ms after exp`);
      assert.ok(
        s.received.some((e) => e.name === 'hub:error' && e.data.code === 'INVALID_TOKEN'),
        'hub:error INVALID_TOKEN before the disconnect',
      );
      assert.equal(s.disconnectReason, 'io server disconnect');
    });

    // With less than 30 s left the warning fires at once: the daemon must
    // arm the timer only once the socket is connected.
    test(
      'a token with less than 30 s left gets hub:tokenExpiring before the disconnect',
      async () => {
        const { token, exp } = expiring('alice', 3);
        const s = await connectAs(hubd, 'ops', 'alice', { transport, token });
        const warn = await waitForEvent(s, 'hub:tokenExpiring', () => true, 10_000);
        assert.equal(Date.parse(warn.expiresAt), exp.getTime(), JSON.stringify(warn));
        await waitForDisconnect(s, 10_000);
      },
    );

    test('hub:refreshToken with a later token keeps the socket; another user is refused', async () => {
      const { token, exp } = expiring('bob', 3);
      const kept = await connectAs(hubd, 'ops', 'bob', { transport, token });
      await joinAs(hubd, 'ops', 'bob', room, { socket: kept });
      const control = await connectAs(hubd, 'ops', 'bob', { transport, token });

      const err = await refusedWith(kept, 'hub:refreshToken', { token: tokenOf('alice') }, 'INVALID_TOKEN');
      assert.equal(typeof err.message, 'string');
      await refusedWith(kept, 'hub:refreshToken', { token: 'garbage' }, 'INVALID_TOKEN');
      const later = expiring('bob', 3600);
      const ack = await emitWithAck(kept, 'hub:refreshToken', { token: later.token });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(Date.parse(ack.expiresAt), later.exp.getTime());

      // The control socket with the same first token goes at exp...
      await waitForDisconnect(control, 10_000);
      assert.ok(Date.now() >= exp.getTime() - 300);
      // ...the refreshed one stays and still works.
      const m = await sendText(kept, room, 'still here');
      assert.equal(m.roomId, room);
      assert.equal(kept.connected, true);
    });
  });
}

test('the warning comes 30 s before exp, not at once', async () => {
  const { token, exp } = expiring('carol', WARNING_S + 2);
  const t0 = Date.now();
  const s = await connectAs(hubd, 'ops', 'carol', { token });
  const warn = await waitForEvent(s, 'hub:tokenExpiring', () => true, 10_000);
  const at = Date.now();
  assert.equal(Date.parse(warn.expiresAt), exp.getTime());
  const due = exp.getTime() - WARNING_S * 1000;
  assert.ok(at >= due - 300, `warned ${due - at}ms early (connected at ${t0}, due ${due})`);
  assert.ok(at < due + 3000, `warned ${at - due}ms late`);
  const ack = await emitWithAck(s, 'hub:refreshToken', { token: tokenOf('carol') });
  assert.equal(ack.ok, true);
});

test('a token past exp (within the verifier leeway) never gets a working session', async () => {
  // The verifier accepts exp up to its leeway (60 s) late, but the session
  // ends at exp: the socket is refused or disconnected at once.
  const token = makeToken({ userId: 'late0000-0000-4000-8000-000000000010', roleId: 'user' }, { ttlSeconds: -10 });
  let s;
  try {
    s = await connect(hubd.url, '/hub/ops', { token });
  } catch (err) {
    assert.equal(err.message, 'Invalid token');
    return;
  }
  await waitForDisconnect(s, 5000);
  assert.ok(s.received.some((e) => e.name === 'hub:error' && e.data.code === 'INVALID_TOKEN'));
});
