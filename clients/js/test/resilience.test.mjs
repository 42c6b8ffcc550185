// @hubd/client across a network drop and a daemon restart in the middle of
// a stream: every message reaches the reader once and in order, and every
// send queued or in flight is stored once.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { startFeatures } from '../../../test/e2e/lib/features.mjs';
import { bodies, clientOf, connected, freePort, FROOMS, Proxy, reader, until } from './lib.mjs';

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** Checks the room's store holds each send once. */
async function storedOnce(client, roomId, n) {
  const stored = await client.history(roomId, { limit: 200 });
  assert.equal(stored.length, n, 'the store holds every send once');
  assert.equal(new Set(stored.map((m) => m.clientMessageId)).size, n, 'one stored message per clientMessageId');
  return stored;
}

/**
 * Each scenario runs with the daemon's connection state recovery (the
 * client sees socket.recovered and does not rejoin) and without it
 * (maxDisconnectionDuration 0: the client rejoins with since).
 */
const MODES = [
  { name: 'recovered by the server', env: {}, recovered: true },
  { name: 'rejoined with since', env: { HUBD_SOCKETIO__MAX_DISCONNECTION_DURATION: '0s' }, recovered: false },
];

/** Checks which path brought the client back. */
function cameBack(mode, client, r) {
  if (mode.recovered) {
    assert.equal(client.socket.recovered, true, 'the session was recovered');
    assert.equal(r.rejoins.length, 0, 'a recovered session is not joined again');
  } else {
    assert.notEqual(client.socket.recovered, true);
    assert.ok(r.rejoins.length >= 1, 'the client rejoined with since');
  }
}

for (const mode of MODES) {
  test(`a daemon restart mid-stream (${mode.name}): each message arrives once, each queued send is stored once`, async () => {
    const port = await freePort();
    const daemon = await startFeatures({ args: ['--listen', `127.0.0.1:${port}`], env: mode.env });
    cleanup.push(() => daemon.close());
    const url = `http://127.0.0.1:${port}`;
    const room = FROOMS.room4;
    const alice = clientOf(url, 'ops', 'alice');
    const bob = clientOf(url, 'ops', 'bob');
    const r = reader(alice, room);
    await alice.join(room);
    await bob.join(room);

    const sends = [];
    for (const body of bodies('m', 30)) sends.push(bob.send(room, 'text', { body }));
    await until(() => r.got.length >= 5, { what: 'the stream started' });
    await daemon.stop(); // SIGTERM with sends in flight
    for (const body of bodies('q', 70)) sends.push(bob.send(room, 'text', { body })); // queued while down
    assert.ok(bob.pendingSends(room).length > 0, 'sends wait in the outbox while the daemon is down');
    await daemon.start();
    await connected(alice);
    const acked = await Promise.all(sends);

    assert.equal(new Set(acked.map((m) => m.id)).size, 100, 'every send resolves with its own message');
    await until(() => r.got.length >= 100, { what: 'alice has all 100 messages', timeoutMs: 20_000 });
    r.check([...bodies('m', 30), ...bodies('q', 70)]);
    cameBack(mode, alice, r);
    await storedOnce(bob, room, 100);
    assert.equal(bob.pendingSends().length, 0);
    alice.close();
    bob.close();
  });

  test(`a network drop mid-stream (${mode.name}): the reader misses nothing`, async () => {
    const daemon = await startFeatures({ env: mode.env });
    cleanup.push(() => daemon.close());
    const proxy = await new Proxy(daemon.addr).listen();
    cleanup.push(() => proxy.close());
    const room = FROOMS.room5;
    const alice = clientOf(proxy.url, 'ops', 'alice'); // reader behind the proxy
    const bob = clientOf(proxy.url, 'ops', 'bob'); // sender behind the proxy
    const dave = clientOf(daemon.url, 'ops', 'dave'); // sender on a good network
    const r = reader(alice, room);
    await alice.join(room);
    await bob.join(room);
    await dave.join(room);

    const sends = [];
    for (const body of bodies('b', 30)) sends.push(bob.send(room, 'text', { body }));
    await until(() => r.got.length >= 5, { what: 'the stream started' });
    proxy.drop();
    await until(() => !alice.connected && !bob.connected, { what: 'both clients see the drop' });
    for (const body of bodies('q', 40)) sends.push(bob.send(room, 'text', { body })); // queued offline
    const missed = await Promise.all(bodies('d', 30).map((body) => dave.send(room, 'text', { body }))); // alice is away
    assert.equal(missed.length, 30);
    proxy.restore();
    const acked = await Promise.all(sends);
    assert.equal(new Set(acked.map((m) => m.id)).size, 70);

    await until(() => r.got.length >= 100, { what: 'alice has all 100 messages', timeoutMs: 20_000 });
    r.check([...bodies('b', 30), ...bodies('q', 40), ...bodies('d', 30)]);
    cameBack(mode, alice, r);
    await storedOnce(dave, room, 100);
    alice.close();
    bob.close();
    dave.close();
  });
}

// With the write log of the session, the server resumes every room where
// the client was, up to 10,000 messages. After kill -9 the record has no
// log: rooms other than the offset's resume by time, at most 1,000
// messages, and a busier room ends with RECOVERY_INCOMPLETE.
test('a room the server cannot recover in full (kill -9, then 1,001 missed) is joined again with since and paged to the end', async () => {
  const port = await freePort();
  const daemon = await startFeatures({ args: ['--listen', `127.0.0.1:${port}`] });
  cleanup.push(() => daemon.close());
  const proxy = await new Proxy(`127.0.0.1:${port}`).listen();
  cleanup.push(() => proxy.close());
  const [busy, quiet] = [FROOMS.room8, FROOMS.room9];
  const alice = clientOf(proxy.url, 'ops', 'alice');
  const dave = clientOf(`http://127.0.0.1:${port}`, 'ops', 'dave');
  const r = reader(alice, busy);
  const q = reader(alice, quiet); // before the sends: a delivery may come before dave's ack
  const errors = [];
  alice.on('error', (e) => errors.push(e));
  for (const room of [busy, quiet]) {
    await alice.join(room);
    await dave.join(room);
  }
  await dave.send(busy, 'text', { body: 'first' });
  await dave.send(quiet, 'text', { body: 'last before the drop' }); // alice's offset is in the quiet room
  await until(() => r.got.length === 1 && q.got.length === 1, { what: 'alice has both messages' });

  daemon.child.kill('SIGKILL'); // the session record keeps the joins, not the write log
  await daemon.exited;
  proxy.drop();
  await until(() => !alice.connected, { what: 'alice sees the drop' });
  await daemon.start();
  await connected(dave);
  const missed = bodies('x', 1001); // over the 1,000 a room other than the offset's recovers by time
  for (let i = 0; i < missed.length; i += 200) {
    await Promise.all(missed.slice(i, i + 200).map((body) => dave.send(busy, 'text', { body })));
  }
  proxy.restore();

  await until(() => r.got.length >= 1002, { what: 'alice has all 1002 messages of the busy room', timeoutMs: 30_000 });
  r.check(['first', ...missed]);
  assert.equal(alice.socket.recovered, true, 'the session was recovered');
  assert.deepEqual(errors.filter((e) => e.roomId === busy && e.event === 'hub:join').map((e) => e.code), ['RECOVERY_INCOMPLETE']);
  assert.deepEqual(r.rejoins.map((x) => x.roomId), [busy], 'only the busy room was joined again');
  alice.close();
  dave.close();
});
