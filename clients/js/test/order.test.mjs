// The outbox keeps send order: whatever is retried on the way (RATE_LIMITED
// with retryAfterMs, a daemon restart, a network drop), a room's messages
// are stored in the order send() was called, each clientMessageId once.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startDaemon } from '../../../test/e2e/lib/harness.mjs';
import { startFeatures } from '../../../test/e2e/lib/features.mjs';
import { bodies, clientOf, connected, FEATURES, freePort, FROOMS, Proxy, sendAll, storedInOrder, streamStarted, until } from './lib.mjs';

const PACED = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hubs');

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

test('RATE_LIMITED with retryAfterMs: the refused send is retried before the ones behind it', async () => {
  const daemon = await startDaemon({ hubs: PACED, records: FEATURES.records, lib: FEATURES.lib });
  cleanup.push(() => daemon.close());
  const room = FROOMS.room1;
  const alice = clientOf(daemon.url, 'paced', 'alice');
  const limited = [];
  alice.on('sendRetry', (r) => r.error.code === 'RATE_LIMITED' && limited.push(r.error));
  await alice.join(room);

  // A burst of 120 passes, then one every 500 ms: the first sends past the
  // burst are retried again and again, with growing back-off, while the
  // app keeps sending; none of the later sends may take their place.
  const burst = bodies('r', 124);
  const sends = sendAll(alice, room, burst);
  await until(() => limited.length >= 1, { what: 'a send was refused with RATE_LIMITED' });
  const trickle = bodies('t', 6);
  for (const body of trickle) {
    await until(() => limited.length >= 2 + trickle.indexOf(body), { what: 'more refusals', timeoutMs: 20_000 });
    sends.push(alice.send(room, 'text', { body }));
  }
  const acked = await Promise.all(sends);
  const sent = [...burst, ...trickle];
  assert.ok(limited.length >= 1, 'the daemon refused sends with RATE_LIMITED on the way');
  assert.ok(limited.every((e) => e.retryAfterMs > 0), 'RATE_LIMITED carries retryAfterMs');
  await storedInOrder(alice, room, sent, acked);
  alice.close();
});

test('a SIGTERM restart mid-stream: sends in flight and queued while down are stored once, in send() order', async () => {
  const port = await freePort();
  const daemon = await startFeatures({ args: ['--listen', `127.0.0.1:${port}`] });
  cleanup.push(() => daemon.close());
  const url = `http://127.0.0.1:${port}`;
  const room = FROOMS.room10;
  const bob = clientOf(url, 'ops', 'bob');
  await bob.join(room);

  const first = bodies('m', 60);
  const sends = await streamStarted(bob, room, first, 5);
  await daemon.stop(); // SIGTERM with sends in flight
  const later = bodies('q', 40);
  sends.push(...sendAll(bob, room, later)); // queued while down
  assert.ok(bob.pendingSends(room).length > 40, 'sends wait in the outbox while the daemon is down');
  await daemon.start();
  await connected(bob);
  const acked = await Promise.all(sends);
  await storedInOrder(bob, room, [...first, ...later], acked);
  bob.close();
});

test('a network drop mid-stream: the sender behind the dropped link stores everything once, in send() order', async () => {
  const daemon = await startFeatures();
  cleanup.push(() => daemon.close());
  const proxy = await new Proxy(daemon.addr).listen();
  cleanup.push(() => proxy.close());
  const room = FROOMS.room11;
  const bob = clientOf(proxy.url, 'ops', 'bob'); // the sender, behind the proxy
  const dave = clientOf(daemon.url, 'ops', 'dave'); // another member on a good network
  await bob.join(room);
  await dave.join(room);

  const first = bodies('b', 60);
  const sends = await streamStarted(bob, room, first, 5);
  proxy.drop(); // sends in flight get no answer
  await until(() => !bob.connected, { what: 'bob sees the drop' });
  const later = bodies('q', 40);
  sends.push(...sendAll(bob, room, later)); // queued offline
  await Promise.all(bodies('d', 20).map((body) => dave.send(room, 'text', { body }))); // the room goes on
  proxy.restore();
  const acked = await Promise.all(sends);
  await storedInOrder(dave, room, [...first, ...later], acked);
  bob.close();
  dave.close();
});
