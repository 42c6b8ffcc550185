// Hostile clients against the real daemon: raw WebSocket and polling
// traffic, the exact reaction (close code, HTTP status, the connection
// kept), the one refusal counted in hubd_refusals_total{reason} on the admin
// listener, the memory bound of the binary reassembly (RSS from /proc) and a
// control client that keeps working meanwhile. docs/security.md,
// "Transport limits", lists every limit.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, startDaemon, until, waitForEvent } from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';
import { binaryHeader, procBytes, rawSocket, refusalDelta, refusals, resetPeakRSS } from './lib/raw.mjs';

const MAX_PAYLOAD = 1_000_000; // socketio.maxPayload default
const CHAT_CAP = 4096 + 4096; // chat hub maxMessageSize plus the envelope allowance

/** Runs fn and checks that exactly the refusals in want were counted. */
async function counted(daemon, want, fn) {
  const before = await refusals(daemon);
  const out = await fn();
  // Polled: a close frame may reach the client before the count is made.
  let delta;
  try {
    await until(async () => {
      delta = refusalDelta(before, await refusals(daemon));
      return JSON.stringify(delta) === JSON.stringify(want);
    }, { what: `refusals ${JSON.stringify(want)}` });
  } catch {
    assert.deepEqual(delta, want, 'refusals counted');
  }
  return out;
}

/** A control pair in ROOMS.general: one sends, the other receives. */
async function controlPair(url) {
  const talker = await connect(url, NSP.chat, { token: tokenFor('alice') });
  const listener = await connect(url, NSP.chat, { token: tokenFor('bob') });
  for (const s of [talker, listener]) {
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  }
  let n = 0;
  return {
    /** One message sent by the talker and received by the listener. */
    async roundTrip() {
      const body = `control ${n++}`;
      const ack = await emitWithAck(talker, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await waitForEvent(listener, 'hub:messageArrived', (d) => d.message?.id === ack.message.id);
    },
  };
}

describe('hostile packets get their exact reaction and are counted', () => {
  let hubd;
  let control;
  const token = tokenFor('alice');

  before(async () => {
    hubd = await startDaemon({ env: { HUBD_SOCKETIO__ATTACHMENT_TIMEOUT: '2s' } });
    control = await controlPair(hubd.url);
  });
  after(async () => {
    disconnectAll();
    await hubd?.close();
  });

  const joined = async (s) => {
    const reply = await s.connect(NSP.chat, { token });
    assert.match(reply, /^40\/hub\/chat,\{"sid":/);
  };
  // Each case: its own connection, optionally joined to the chat hub, then
  // the hostile frames; the server must close with code and count reason.
  const closing = [
    { name: 'invalid UTF-8 in a text frame', code: 1007, reason: 'invalid_utf8', send: (s) => s.text(Buffer.from('42["x","\xff"]', 'latin1')) },
    { name: 'invalid UTF-8 after CONNECT', join: true, code: 1007, reason: 'invalid_utf8', send: (s) => s.text(Buffer.concat([Buffer.from(`42${NSP.chat},["x","`), Buffer.from([0xc3, 0x28]), Buffer.from('"]')])) },
    { name: 'unknown Engine.IO packet type', code: 1006, reason: 'parse_error', send: (s) => s.text('9') },
    { name: 'event name that is not a string', join: true, code: 1006, reason: 'parse_error', send: (s) => s.text(`42${NSP.chat},[1]`) },
    { name: 'truncated JSON', join: true, code: 1006, reason: 'parse_error', send: (s) => s.text(`42${NSP.chat},["hub:send",{"a":`) },
    { name: 'attachment nobody expects', code: 1006, reason: 'parse_error', send: (s) => s.binary(Buffer.alloc(16)) },
    { name: '63 attachments announced', code: 1006, reason: 'too_many_attachments', send: (s) => s.text(binaryHeader('', 63)) },
    { name: 'namespace name of 300 bytes', code: 1008, reason: 'namespace_too_long', send: (s) => s.text(`40/${'n'.repeat(300)},{}`) },
    { name: 'frame over maxPayload', code: 1009, reason: 'payload_too_large', send: (s) => s.binary(Buffer.alloc(MAX_PAYLOAD + 1)) },
    {
      name: 'binary packet before CONNECT',
      code: 1009,
      reason: 'binary_before_connect',
      send: (s) => {
        s.text(binaryHeader('', 1));
        s.binary(Buffer.alloc(100_000));
      },
    },
    {
      name: 'attachment past the hub maxMessageSize',
      join: true,
      code: 1009,
      reason: 'binary_too_large',
      send: (s) => {
        s.text(binaryHeader(NSP.chat, 1));
        s.binary(Buffer.alloc(CHAT_CAP));
      },
    },
    {
      name: 'last attachment never sent (socketio.attachmentTimeout 2s)',
      join: true,
      code: 1008,
      reason: 'binary_timeout',
      send: (s) => {
        s.text(binaryHeader(NSP.chat, 2));
        s.binary(Buffer.alloc(16));
      },
    },
  ];
  for (const tc of closing) {
    test(`${tc.name}: closed with ${tc.code}, ${tc.reason} counted`, async () => {
      const s = await rawSocket(hubd.url);
      if (tc.join) await joined(s);
      const seen = s.texts.length;
      const code = await counted(hubd, { [tc.reason]: 1 }, async () => {
        tc.send(s);
        return s.closeCode();
      });
      assert.equal(code, tc.code);
      assert.deepEqual(s.texts.slice(seen), [], 'nothing answered (a refused namespace name is not echoed)');
      await control.roundTrip();
    });
  }

  test('a 17th namespace on one connection gets CONNECT_ERROR, the others keep working', async () => {
    const s = await rawSocket(hubd.url);
    for (let i = 1; i <= 16; i++) {
      assert.match(await s.connect(`/a${i}/hub/chat`, { token }), /^40\/a\d+\/hub\/chat,\{"sid":/);
    }
    const reply = await counted(hubd, { too_many_namespaces: 1 }, () => s.connect('/a17/hub/chat', { token }));
    assert.equal(reply, '44/a17/hub/chat,{"message":"Too many namespaces"}');
    s.text(`42/a1/hub/chat,7["hub:join",{"roomId":"${ROOMS.general}"}]`);
    assert.match(await s.next((t) => t.startsWith('43/a1/hub/chat,7')), /"ok":true/);
    s.end();
  });

  test('an event over the hub maxMessageSize is answered MESSAGE_TOO_LARGE, the connection kept', async () => {
    const s = await rawSocket(hubd.url);
    await joined(s);
    const body = 'x'.repeat(CHAT_CAP);
    const ack = await counted(hubd, { event_too_large: 1 }, () => {
      s.text(`42${NSP.chat},5["hub:send",{"roomId":"${ROOMS.general}","messageType":"text","content":{"body":"${body}"}}]`);
      return s.next((t) => t.startsWith(`43${NSP.chat},5`));
    });
    assert.match(ack, /MESSAGE_TOO_LARGE/);
    s.text(`42${NSP.chat},6["hub:join",{"roomId":"${ROOMS.general}"}]`);
    assert.match(await s.next((t) => t.startsWith(`43${NSP.chat},6`)), /"ok":true/);
    s.end();
  });

  // The polling path: the POST gets an error status and the session ends.
  const polling = [
    { name: 'a body that is not UTF-8', status: 400, reason: 'invalid_utf8', body: Buffer.from('42["x","\xff"]', 'latin1') },
    { name: 'a body over maxPayload', status: 413, reason: 'payload_too_large', body: `4${'x'.repeat(MAX_PAYLOAD)}` },
    { name: 'a malformed packet', status: 400, reason: 'parse_error', body: '42[' },
  ];
  for (const tc of polling) {
    test(`polling, ${tc.name}: ${tc.status}, ${tc.reason} counted, session closed`, async () => {
      const open = await fetch(`${hubd.url}/socket.io/?EIO=4&transport=polling`);
      const { sid } = JSON.parse((await open.text()).slice(1));
      const u = `${hubd.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      const res = await counted(hubd, { [tc.reason]: 1 }, () =>
        fetch(u, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: tc.body }),
      );
      await res.arrayBuffer();
      assert.equal(res.status, tc.status);
      const after = await fetch(u);
      assert.deepEqual({ status: after.status, body: await after.json() }, { status: 400, body: { code: 1, message: 'Session ID unknown' } });
    });
  }
});

describe('binary reassembly attacks stay within a memory bound', () => {
  let hubd;
  let control;
  const FRAME = 990_000; // ~1 MB, under maxPayload

  before(async () => {
    hubd = await startDaemon();
    control = await controlPair(hubd.url);
    await control.roundTrip();
  });
  after(async () => {
    disconnectAll();
    await hubd?.close();
  });

  /**
   * One attacker: header, then up to frames attachments of FRAME bytes
   * (never the last one), each written once the previous one left; it
   * stops when the server closes. Resolves with the close code.
   */
  async function attacker({ token, header, frames }) {
    const s = await rawSocket(hubd.url);
    if (token) assert.match(await s.connect(NSP.chat, { token }), /^40\/hub\/chat,\{"sid":/);
    s.text(header);
    const buf = Buffer.alloc(FRAME, 0x61);
    for (let i = 0; i < frames; i++) {
      const ok = await new Promise((resolve) => {
        if (!s.binary(buf)) return resolve(false);
        s.ws.once('drain', () => resolve(true));
        if (s.ws.bufferedAmount === 0) resolve(true);
        setTimeout(() => resolve(s.ws.readyState === 1), 50);
      });
      if (!ok) break;
    }
    return s.closeCode(15_000);
  }

  const attacks = [
    { name: '20 connections without a token, 63 attachments announced, 62 frames of ~1 MB', header: binaryHeader('', 63), frames: 62, code: 1006, reason: 'too_many_attachments' },
    { name: '20 connections without a token, 10 attachments announced, 9 frames of ~1 MB', header: binaryHeader('', 10), frames: 9, code: 1009, reason: 'binary_before_connect' },
    { name: '20 connections with a valid token, 10 attachments to the chat hub, 9 frames of ~1 MB', token: true, header: binaryHeader(NSP.chat, 10), frames: 9, code: 1009, reason: 'binary_too_large' },
    { name: '20 connections with a valid token, 10 attachments to a namespace not joined', token: true, header: binaryHeader('/other', 10), frames: 9, code: 1009, reason: 'binary_before_connect' },
  ];
  for (const a of attacks) {
    test(`${a.name}: RSS rises by less than 64 MB, the control room keeps working`, async (t) => {
      const pid = hubd.child.pid;
      // The peak is the kernel's VmHWM when it can be reset, else the
      // highest VmRSS sampled every 10 ms.
      const hwm = resetPeakRSS(pid);
      const base = procBytes(pid);
      let peak = base;
      const sampler = setInterval(() => {
        peak = Math.max(peak, procBytes(pid));
      }, 10);
      try {
        const codes = await counted(hubd, { [a.reason]: 20 }, async () => {
          const runs = Array.from({ length: 20 }, (_, i) =>
            attacker({ token: a.token ? tokenFor(i % 2 ? 'alice' : 'bob') : undefined, header: a.header, frames: a.frames }),
          );
          // The control room is served while the attack runs.
          for (let i = 0; i < 3; i++) await control.roundTrip();
          return Promise.all(runs);
        });
        assert.deepEqual(new Set(codes), new Set([a.code]));
        await control.roundTrip();
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, procBytes(pid), hwm ? procBytes(pid, 'VmHWM') : 0);
      const rise = peak - base;
      const mb = (n) => (n / 2 ** 20).toFixed(1);
      t.diagnostic(`RSS ${mb(base)} MB -> peak ${mb(peak)} MB (+${mb(rise)} MB, ${hwm ? 'VmHWM' : 'sampled'})`);
      assert.ok(rise < 64 * 2 ** 20, `RSS rose by ${(rise / 2 ** 20).toFixed(1)} MB`);
    });
  }
});
