// Guardrails of hub "guard", each exactly at its limit and one past:
// maxUsersPerRoom 2, maxRoomsPerUser 2, messageRateLimit 5 per minute,
// maxMessageSize 200 bytes. Every rejection is counted in /metrics.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck } from './lib/harness.mjs';
import { FROOMS, joinAs, connectAs, refusedWith, sendText, startFeatures, tokenOf } from './lib/features.mjs';
import { RestClient } from './lib/rest.mjs';

let hubd;
let rest;

before(async () => {
  hubd = await startFeatures();
  rest = new RestClient(hubd, 'guard');
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

/** hubd_hub_event_errors_total of hub guard for code (0 when absent). */
async function rejections(code) {
  const res = await fetch(`${hubd.adminUrl}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('hubd_hub_event_errors_total{')) continue;
    if (!line.includes('hub="guard"') || !line.includes(`code="${code}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Runs fn and asserts that it added exactly n rejections with code. */
async function counted(code, n, fn) {
  const before = await rejections(code);
  await fn();
  assert.equal((await rejections(code)) - before, n, `hubd_hub_event_errors_total{hub="guard",code="${code}"}`);
}

describe('guardrails', () => {
  test('maxUsersPerRoom 2: two users join, the third is ROOM_FULL (another socket of a member is not)', async () => {
    const room = FROOMS.room1;
    await joinAs(hubd, 'guard', 'alice', room);
    const { socket: bob } = await joinAs(hubd, 'guard', 'bob', room);
    await joinAs(hubd, 'guard', 'alice', room);
    const carol = await connectAs(hubd, 'guard', 'carol');
    await counted('ROOM_FULL', 1, () => refusedWith(carol, 'hub:join', { roomId: room }, 'ROOM_FULL'));
    await emitWithAck(bob, 'hub:leave', { roomId: room });
    await joinAs(hubd, 'guard', 'carol', room, { socket: carol });
  });

  test('maxRoomsPerUser 2: two rooms, the third is TOO_MANY_ROOMS', async () => {
    const { socket: dave } = await joinAs(hubd, 'guard', 'dave', FROOMS.room2);
    await joinAs(hubd, 'guard', 'dave', FROOMS.room3, { socket: dave });
    await counted('TOO_MANY_ROOMS', 1, () => refusedWith(dave, 'hub:join', { roomId: FROOMS.room4 }, 'TOO_MANY_ROOMS'));
    // A second socket of the same user counts the same rooms.
    const other = await connectAs(hubd, 'guard', 'dave');
    await refusedWith(other, 'hub:join', { roomId: FROOMS.room4 }, 'TOO_MANY_ROOMS');
    await emitWithAck(dave, 'hub:leave', { roomId: FROOMS.room2 });
    await joinAs(hubd, 'guard', 'dave', FROOMS.room4, { socket: dave });
  });

  test('messageRateLimit 5: five messages a minute, the sixth is RATE_LIMITED with retryAfterMs', async () => {
    const room = FROOMS.room5;
    const { socket: erin } = await joinAs(hubd, 'guard', 'erin', room);
    for (let i = 0; i < 5; i++) await sendText(erin, room, `m${i}`);
    await counted('RATE_LIMITED', 1, async () => {
      const err = await refusedWith(erin, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'm5' } }, 'RATE_LIMITED');
      assert.ok(err.retryAfterMs > 0 && err.retryAfterMs <= 60_000, JSON.stringify(err));
    });
    // The same user over REST shares the budget: 429 with Retry-After.
    const res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: { body: 'm6' } }, { token: tokenOf('erin') });
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
  });

  test('maxMessageSize 200: a 200-byte content is accepted, 201 bytes is MESSAGE_TOO_LARGE', async () => {
    const room = FROOMS.room6;
    const { socket: frank } = await joinAs(hubd, 'guard', 'frank', room);
    const at = { body: 'x'.repeat(189) };
    assert.equal(Buffer.byteLength(JSON.stringify(at)), 200);
    const ack = await emitWithAck(frank, 'hub:send', { roomId: room, messageType: 'text', content: at });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const past = { body: 'x'.repeat(190) };
    await counted('MESSAGE_TOO_LARGE', 1, () =>
      refusedWith(frank, 'hub:send', { roomId: room, messageType: 'text', content: past }, 'MESSAGE_TOO_LARGE'),
    );
    const res = await rest.post(`/rooms/${room}/messages`, { messageType: 'text', content: past }, { token: tokenOf('frank') });
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'MESSAGE_TOO_LARGE');
  });

  test('every REST response matches /guard/openapi.json', async () => {
    await rest.validateExchanges();
  });
});
