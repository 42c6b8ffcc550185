// Compression: WebSocket permessage-deflate (socketio.perMessageDeflate) with
// the official client, over websocket and after an upgrade from polling, and
// gzip/deflate polling responses (socketio.httpCompression, on by default).
// The Node client's polling transport sends no Accept-Encoding, so polling
// compression is checked with raw Engine.IO requests next to a real client.

import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, startDaemon, waitForEvent } from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

// About 2.9 KB of text: above the 1024-byte thresholds, below the chat
// hub's maxMessageSize (4096).
const BODY = 'hubd compresses what is worth it. '.repeat(85);

async function joined(user, opts) {
  const s = await connect(hubd.url, NSP.chat, { token: tokenFor(user), ...opts });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

// send emits a large message from sender and resolves with what receiver's
// WebSocket read from the network while it arrived.
async function bytesReadFor(sender, receiver, tag) {
  const raw = receiver.io.engine.transport.ws._socket;
  const before = raw.bytesRead;
  const body = `${tag} ${BODY}`;
  const arrived = waitForEvent(receiver, 'hub:messageArrived', (m) => m.message?.content?.body === body);
  const ack = await emitWithAck(sender, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body } });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await arrived;
  return raw.bytesRead - before;
}

let hubd;

before(async () => {
  hubd = await startDaemon({ env: { HUBD_SOCKETIO__PER_MESSAGE_DEFLATE: 'true' } });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

describe('permessage-deflate', () => {
  for (const transport of ['websocket', 'upgrade']) {
    test(`negotiated with a client that offers it, over ${transport}: large messages compressed both ways`, async () => {
      const receiver = await joined('bob', { transport, client: { perMessageDeflate: { threshold: 1024 } } });
      const sender = await joined('alice', { transport: 'websocket', client: { perMessageDeflate: { threshold: 1024 } } });
      const ws = receiver.io.engine.transport.ws;
      assert.match(ws.extensions, /permessage-deflate/);
      assert.match(sender.io.engine.transport.ws.extensions, /permessage-deflate/);
      const onWire = await bytesReadFor(sender, receiver, `deflate-${transport}`);
      assert.ok(onWire < BODY.length / 4, `${onWire} bytes on the wire for a ${BODY.length}-byte body`);
    });
  }

  test('a client that does not offer it gets plain frames from the same daemon', async () => {
    const receiver = await joined('bob', { client: { perMessageDeflate: false } });
    const sender = await joined('alice', { client: { perMessageDeflate: { threshold: 1024 } } });
    assert.equal(receiver.io.engine.transport.ws.extensions, '');
    const onWire = await bytesReadFor(sender, receiver, 'plain');
    assert.ok(onWire > BODY.length, `${onWire} bytes on the wire for a ${BODY.length}-byte body`);
  });
});

// get sends one raw HTTP GET and resolves with { status, headers, body }
// (body as received, not decoded).
function get(url, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding ? { 'accept-encoding': acceptEncoding } : {};
    http
      .get(url, { headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body });
  assert.equal(res.status, 200, await res.text());
}

const decoders = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync };

// text decodes a response body by its Content-Encoding.
function text(res) {
  const enc = res.headers['content-encoding'];
  return (enc ? decoders[enc](res.body) : res.body).toString();
}

describe('polling responses', () => {
  for (const [accept, want] of [
    ['gzip, deflate', 'gzip'],
    ['deflate', 'deflate'],
    ['', undefined],
  ]) {
    test(`a delivery above 1024 bytes with Accept-Encoding "${accept}" comes ${want ?? 'plain'}`, async () => {
      const base = `${hubd.url}/socket.io/?EIO=4&transport=polling`;
      const open = await get(base, accept);
      assert.equal(open.status, 200);
      assert.equal(open.headers['content-encoding'], undefined, 'the handshake is below the threshold');
      const { sid } = JSON.parse(open.body.toString().slice(1));
      const u = `${base}&sid=${sid}`;
      await post(u, `40${NSP.chat},${JSON.stringify({ token: tokenFor('bob') })}`);
      assert.match(text(await get(u, accept)), /^40\/hub\/chat,\{"sid"/);
      await post(u, `42${NSP.chat},1["hub:join",${JSON.stringify({ roomId: ROOMS.general })}]`);
      assert.match(text(await get(u, accept)), /"ok":true/);

      const sender = await joined('alice', { transport: 'polling' });
      const ack = await emitWithAck(sender, 'hub:send', {
        roomId: ROOMS.general,
        messageType: 'text',
        content: { body: `polling-${accept} ${BODY}` },
      });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const res = await get(u, accept);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], want);
      const got = text(res);
      assert.ok(got.includes('hub:messageArrived') && got.includes(BODY), got.slice(0, 200));
      if (want) assert.ok(res.body.length < BODY.length / 4, `${res.body.length} bytes compressed`);
      await post(u, '1');
    });
  }
});
