// The outbox's order by construction, with a transport that fails on
// demand: a room's next send leaves only once the previous one is answered,
// so a retried send is never overtaken (sendWindow 1), and a larger window
// pipelines.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HubError } from '../dist/esm/errors.js';
import { Outbox } from '../dist/esm/outbox.js';
import { until } from './lib.mjs';

/** A transport that records what goes out and answers by a rule. */
function transport(answer) {
  const wire = [];
  let open = 0;
  let maxOpen = 0;
  return {
    wire,
    get maxOpen() {
      return maxOpen;
    },
    canSend: () => true,
    retrying: () => {},
    emitSend(payload, cb) {
      const attempt = wire.filter((p) => p.clientMessageId === payload.clientMessageId).length + 1;
      wire.push(payload);
      open++;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        open--;
        const err = answer(payload, attempt);
        cb(err, err ? undefined : { message: { body: payload.content.body } });
      }, 5);
    },
  };
}

const send = (box, body, roomId = 'r1') => box.add({ roomId, messageType: 'text', content: { body }, clientMessageId: body });

test('a send refused with UNAVAILABLE and RATE_LIMITED goes out again before the sends behind it', async () => {
  const t = transport((p, attempt) => {
    if (p.content.body === 'm1' && attempt === 1) return new HubError('UNAVAILABLE', 'store down');
    if (p.content.body === 'm3' && attempt < 3) return new HubError('RATE_LIMITED', 'slow down', { retryAfterMs: 20 });
    return null;
  });
  const box = new Outbox(t, 100);
  const bodies = ['m0', 'm1', 'm2', 'm3', 'm4'];
  await Promise.all(bodies.map((b) => send(box, b)));
  assert.deepEqual(t.wire.map((p) => p.content.body), ['m0', 'm1', 'm1', 'm2', 'm3', 'm3', 'm3', 'm4']);
  assert.equal(t.maxOpen, 1);
});

test('a disconnect sends the unanswered send again first, and rooms do not wait for each other', async () => {
  const t = transport(() => null);
  t.emitSend = function (payload, cb) {
    this.wire.push(payload); // never answered: the connection dropped
    this.lost = cb;
  };
  const box = new Outbox(t, 100);
  const done = [send(box, 'a0'), send(box, 'a1'), send(box, 'b0', 'r2')];
  assert.deepEqual(t.wire.map((p) => p.content.body), ['a0', 'b0'], 'one send per room in flight');
  const good = transport(() => null);
  t.emitSend = good.emitSend.bind(good);
  box.disconnected();
  box.pump();
  await Promise.all(done);
  assert.deepEqual(good.wire.map((p) => p.content.body), ['a0', 'b0', 'a1']);
});

test('sendWindow > 1 pipelines up to the window per room', async () => {
  const t = transport(() => null);
  const box = new Outbox(t, 100, 4);
  await Promise.all(Array.from({ length: 12 }, (_, i) => send(box, `w${i}`)));
  assert.equal(t.maxOpen, 4);
  await until(() => box.size === 0, { what: 'outbox empty' });
});
