// Two hubd nodes (one PostgreSQL message schema, one Redis), one room, a
// sender on each node at a fixed rate and a reader on each node: prints
// the end-to-end latency (send to hub:messageArrived, same clock) per node
// and checks that every reader got every message once, in seq order.
//
//   HUBD_BIN=bin/hubd HUBD_TEST_DATABASE_URL=... HUBD_TEST_REDIS_ADDR=... \
//     node test/e2e/tools/clusterbench/order.mjs
//
// RATE (msgs/s per sender, default 10), SECONDS (default 60); NODES=1 runs
// the same clients on one node (the machine's baseline).

import { rm } from 'node:fs/promises';

import { disconnectAll, emitWithAck, psql, tempDir, uniqueSchema } from '../../lib/harness.mjs';
import { startNodes, writeOpenHub } from '../../lib/cluster.mjs';
import { FROOMS, joinAs } from '../../lib/features.mjs';
import { ident } from '../../lib/pgrecords.mjs';
import { deleteKeys, uniquePrefix } from '../../lib/redis.mjs';

const RATE = Number(process.env.RATE ?? 10);
const SECONDS = Number(process.env.SECONDS ?? 60);

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const hubs = await tempDir('hubd-bench-order-');
await writeOpenHub(hubs, 'order');
const schema = uniqueSchema('bench_order');
const prefix = uniquePrefix();
const started = await startNodes(process.env.NODES === '1' ? 1 : 2, {
  hubs, redisAddr: process.env.HUBD_TEST_REDIS_ADDR, pgSchema: schema, env: { HUBD_REDIS__PREFIX: prefix },
});
const a = started[0];
const b = started[1] ?? a;
const room = FROOMS.room3;
try {
  const senders = [(await joinAs(a, 'order', 'alice', room)).socket, (await joinAs(b, 'order', 'bob', room)).socket];
  const readers = [
    { node: 'A', socket: (await joinAs(a, 'order', 'carol', room)).socket },
    { node: 'B', socket: (await joinAs(b, 'order', 'dave', room)).socket },
  ];
  const lat = new Map(readers.map((r) => [r.node, []]));
  for (const r of readers) {
    r.got = [];
    r.socket.on('hub:messageArrived', (d) => {
      const body = JSON.parse(d.message.content.body);
      lat.get(r.node).push(Date.now() - body.t);
      r.got.push(d.message);
    });
  }
  const acked = [];
  const sendLoop = async (s, tag) => {
    const n = RATE * SECONDS;
    const start = Date.now();
    for (let i = 0; i < n; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const ack = await emitWithAck(s, 'hub:send', {
        roomId: room,
        messageType: 'text',
        content: { body: JSON.stringify({ t: Date.now(), tag, i }) },
      });
      if (!ack.ok) throw new Error(JSON.stringify(ack));
      acked.push(ack.message);
    }
  };
  await Promise.all(senders.map((s, i) => sendLoop(s, i)));
  const deadline = Date.now() + 10_000;
  while (readers.some((r) => r.got.length < acked.length) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const low = Math.min(...acked.map((m) => m.seq));
  for (const r of readers) {
    const seqs = r.got.map((m) => m.seq);
    const inOrder = seqs.every((s, i) => s === low + i);
    const ms = lat.get(r.node).sort((x, y) => x - y);
    console.log(
      `node ${r.node}: ${r.got.length}/${acked.length} received, ${new Set(r.got.map((m) => m.id)).size} distinct, ` +
        `in seq order without holes: ${inOrder}; latency ms p50 ${quantile(ms, 0.5)} p90 ${quantile(ms, 0.9)} ` +
        `p99 ${quantile(ms, 0.99)} max ${ms[ms.length - 1]}`,
    );
  }
  for (const [name, d] of [['A', a], ['B', b]]) {
    const gaps = (await d.metrics()).split('\n').filter((l) => l.startsWith('hubd_cluster_sequence_gaps_total'));
    console.log(`node ${name} gaps: ${gaps.join(', ') || 'none'}`);
  }
} finally {
  disconnectAll();
  await a.close();
  if (b !== a) await b.close();
  psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
  deleteKeys(prefix);
  await rm(hubs, { recursive: true, force: true });
}
