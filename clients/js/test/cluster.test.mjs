// @hubd/client on two nodes (one Redis, one PostgreSQL message schema): the
// client is joined through node A, the network is cut, and it comes back
// through node B (the session recovered from Redis, or the room rejoined
// with since) while another member goes on sending on node A and the
// client's own outbox holds sends in flight and queued: every message once,
// in seq order, every queued send stored once and in send() order.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { psql, tempDir, uniqueSchema } from '../../../test/e2e/lib/harness.mjs';
import { NEEDS_PG_AND_REDIS, startNodes, writeOpenHub } from '../../../test/e2e/lib/cluster.mjs';
import { ident } from '../../../test/e2e/lib/pgrecords.mjs';
import { deleteKeys, uniquePrefix } from '../../../test/e2e/lib/redis.mjs';
import { bodies, clientOf, connected, FROOMS, Proxy, reader, sendAll, storedInOrder, streamStarted, until } from './lib.mjs';

const skip = NEEDS_PG_AND_REDIS;

/**
 * With the daemons' connection state recovery (records in Redis: node B
 * restores the session node A made) and without it (the client rejoins
 * with since on node B).
 */
const MODES = [
  { name: 'recovered on the other node', env: {}, recovered: true },
  { name: 'rejoined with since on the other node', env: { HUBD_SOCKETIO__MAX_DISCONNECTION_DURATION: '0s' }, recovered: false },
];

for (const mode of MODES) {
  describe(`two nodes: a client moves from A to B (${mode.name})`, { skip }, () => {
    let hubs;
    let schema;
    let prefix;
    let a;
    let b;

    before(async () => {
      hubs = await tempDir('hubd-client-cluster-hubs-');
      await writeOpenHub(hubs, 'multi', { historyLimit: 50 });
      schema = uniqueSchema('client_cluster');
      prefix = uniquePrefix();
      [a, b] = await startNodes(2, {
        hubs,
        redisAddr: process.env.HUBD_TEST_REDIS_ADDR,
        redisPrefix: prefix,
        pgSchema: schema,
        env: mode.env,
      });
    });

    after(async () => {
      await a?.close();
      await b?.close();
      if (schema) psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
      if (prefix) deleteKeys(prefix);
      if (hubs) await rm(hubs, { recursive: true, force: true });
    });

    test('every message once and in order, every queued send stored once in send() order', async (t) => {
      const room = FROOMS.room2;
      const proxy = await new Proxy(a.addr).listen(); // alice's network, to node A for now
      t.after(() => proxy.close());
      const alice = clientOf(proxy.url, 'multi', 'alice');
      const dave = clientOf(a.url, 'multi', 'dave'); // another member, on node A
      const r = reader(alice, room);
      await alice.join(room);
      await dave.join(room);
      await dave.send(room, 'text', { body: 'before' });
      await until(() => r.got.length === 1, { what: 'alice has the first message' });

      const first = bodies('a', 30);
      const sends = await streamStarted(alice, room, first, 3);
      proxy.drop(); // the network is cut with sends in flight
      await until(() => !alice.connected, { what: 'alice sees the cut' });
      proxy.retarget(b.addr); // and comes back through node B
      const later = bodies('q', 20);
      sends.push(...sendAll(alice, room, later)); // queued while cut
      assert.ok(alice.pendingSends(room).length >= 20, 'sends wait in the outbox');
      const missed = bodies('d', 40);
      for (const body of missed) await dave.send(room, 'text', { body }); // on node A, while alice is away
      proxy.restore();
      await connected(alice);

      const acked = await Promise.all(sends);
      const all = ['before', ...first, ...later, ...missed];
      await until(() => r.got.length >= all.length, { what: `alice has all ${all.length} messages`, timeoutMs: 30_000 });
      r.check(all);
      if (mode.recovered) {
        assert.equal(alice.socket.recovered, true, 'node B recovered the session node A made');
        assert.equal(r.rejoins.length, 0);
      } else {
        assert.notEqual(alice.socket.recovered, true);
        assert.ok(r.rejoins.length >= 1, 'alice rejoined with since on node B');
      }
      await storedInOrder(dave, room, [...first, ...later], acked);
      // dave, on node A, got alice's sends made through node B once each.
      const onA = await dave.history(room, { limit: 200 });
      assert.equal(onA.length, all.length, 'the store holds every message once');
      alice.close();
      dave.close();
    });
  });
}
