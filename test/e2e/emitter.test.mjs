// Node services emit into hubd rooms with the official
// @socket.io/redis-emitter package: two hubd nodes on a Redis of the
// suite's own; an emit to a room reaches its members on both nodes (rooms
// named by the room ids clients know), an emit to the namespace or to all
// clients reaches everyone, except() leaves a room out, binary arguments
// arrive as binary.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { Emitter } from '@socket.io/redis-emitter';
import { createClient } from 'redis';

import { disconnectAll, eventsNamed, tempDir, until, waitForEvent } from './lib/harness.mjs';
import { startNodes, writeOpenHub } from './lib/cluster.mjs';
import { FROOMS, joinAs } from './lib/features.mjs';
import { PrivateRedis } from './lib/redis.mjs';

describe('@socket.io/redis-emitter into hubd rooms', () => {
  let hubs;
  let redis;
  let client;
  let a;
  let b;

  before(async () => {
    hubs = await tempDir('hubd-e2e-emitter-hubs-');
    await writeOpenHub(hubs, 'scores');
    redis = await new PrivateRedis().start();
    [a, b] = await startNodes(2, { hubs, redisAddr: redis.addr });
    client = createClient({ url: `redis://${redis.addr}` });
    await client.connect();
  });

  after(async () => {
    disconnectAll();
    await client?.quit();
    await a?.close();
    await b?.close();
    await redis?.close();
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  test('room, namespace, all clients, except, binary: on both nodes', async () => {
    const room1 = FROOMS.room1;
    const room2 = FROOMS.room2;
    const alice = (await joinAs(a, 'scores', 'alice', room1)).socket;
    const bob = (await joinAs(b, 'scores', 'bob', room1)).socket;
    const carol = (await joinAs(b, 'scores', 'carol', room2)).socket;
    const emitter = new Emitter(client);
    const nsp = emitter.of('/hub/scores');

    // Both nodes subscribed: a first emit arrives on each.
    let n = 0;
    await until(
      async () => {
        await nsp.emit('ready', ++n);
        return eventsNamed(alice, 'ready').length > 0 && eventsNamed(carol, 'ready').length > 0;
      },
      { intervalMs: 100, what: 'both nodes to deliver an emitter publication' },
    );

    await nsp.to(room1).emit('score', { home: 3, away: 1 });
    await nsp.except(room1).emit('notRoom1', 'x');
    await nsp.emit('announce', 'to the namespace');
    await emitter.emit('everyone', 'to all clients');
    await nsp.to(room1).emit('blob', Buffer.from([1, 2, 3]), { label: 'b' });
    await nsp.emit('marker');

    for (const s of [alice, bob, carol]) await waitForEvent(s, 'marker');
    for (const [s, who] of [
      [alice, 'alice on A'],
      [bob, 'bob on B'],
    ]) {
      assert.deepEqual(eventsNamed(s, 'score'), [{ home: 3, away: 1 }], `${who}: the room's emit, once`);
      assert.equal(eventsNamed(s, 'notRoom1').length, 0, `${who}: left out by except()`);
      const blob = s.received.find((ev) => ev.name === 'blob');
      assert.ok(blob, `${who}: binary emit`);
      assert.deepEqual([...new Uint8Array(blob.args[0])], [1, 2, 3]);
      assert.deepEqual(blob.args[1], { label: 'b' });
    }
    assert.equal(eventsNamed(carol, 'score').length, 0, 'carol is in another room');
    assert.equal(eventsNamed(carol, 'blob').length, 0);
    assert.deepEqual(eventsNamed(carol, 'notRoom1'), ['x']);
    for (const s of [alice, bob, carol]) {
      assert.deepEqual(eventsNamed(s, 'announce'), ['to the namespace']);
      assert.deepEqual(eventsNamed(s, 'everyone'), ['to all clients']);
    }
  });
});
