// What the outbox's sendWindow costs: one client sends N messages into one
// room of the real daemon (embedded store, the bench hub of bench/hubs),
// with @hubd/client at sendWindow 1, 4 and 16, and for reference with
// plain socket.io-client emitting hub:send with an ack, one at a time and
// all at once. Each variant runs in turn, ROUNDS times (a fresh client and
// room each time, after WARMUP messages); the table gives the median over
// the rounds of messages per second (N / from the first send to the last
// ack) and of the p50/p99 ack latency (from the hub:send leaving the
// socket to its ack, the last attempt's for a retried send).
//
//   (cd clients/js && npm ci && npm run build)
//   HUBD_BIN=$PWD/bin/hubd node clients/js/bench/sendwindow.mjs
//
// N (default 2000), ROUNDS (3), WARMUP (200); VARIANTS picks variants by
// name, comma-separated (default all).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { io } from 'socket.io-client';

import { makeToken, startDaemon } from '../../../test/e2e/lib/harness.mjs';
import { HubClient } from '../dist/esm/index.js';

const N = Number(process.env.N ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WARMUP = Number(process.env.WARMUP ?? 200);
const HUB = 'chatHub';
const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench');
const SOCKET = { transports: ['websocket'], forceNew: true, reconnection: false };

const token = (i) => makeToken({ userId: `sendwindow-${i}`, roleId: 'user' });

/** @hubd/client with a send window: resolves with { ms, lat } for bodies. */
function withWindow(window) {
  return async (url, room, i, bodies) => {
    const c = new HubClient(url, HUB, { token: token(i), sendWindow: window, maxOutbox: bodies.length, ackTimeoutMs: 30_000, socket: SOCKET });
    try {
      await c.join(room);
      const left = new Map(); // clientMessageId -> when its hub:send last left
      c.socket.onAnyOutgoing((event, p) => event === 'hub:send' && left.set(p.clientMessageId, performance.now()));
      const send = (body) => c.send(room, 'text', { body }).then((m) => performance.now() - left.get(m.clientMessageId));
      await Promise.all(bodies.slice(0, WARMUP).map((b) => send(`w${b}`)));
      const start = performance.now();
      const lat = await Promise.all(bodies.map(send));
      return { ms: performance.now() - start, lat };
    } finally {
      c.close();
    }
  };
}

/** Plain socket.io-client: hub:send with an ack, at most `inflight` unanswered. */
function plain(inflight) {
  return async (url, room, i, bodies) => {
    const s = io(`${url}/hub/${HUB}`, { ...SOCKET, auth: { token: token(i) } });
    try {
      await new Promise((resolve, reject) => s.once('connect', resolve).once('connect_error', reject));
      const join = await s.timeout(30_000).emitWithAck('hub:join', { roomId: room });
      if (!join.ok) throw new Error(`join: ${JSON.stringify(join)}`);
      const send = async (body) => {
        const t = performance.now();
        const ack = await s.timeout(30_000).emitWithAck('hub:send', { roomId: room, messageType: 'text', content: { body } });
        if (!ack.ok) throw new Error(`send: ${JSON.stringify(ack)}`);
        return performance.now() - t;
      };
      const run = async (list) => {
        const lat = [];
        let next = 0;
        const lane = async () => {
          while (next < list.length) lat.push(await send(list[next++]));
        };
        await Promise.all(Array.from({ length: Math.min(inflight, list.length) }, lane));
        return lat;
      };
      await run(bodies.slice(0, WARMUP).map((b) => `w${b}`));
      const start = performance.now();
      const lat = await run(bodies);
      return { ms: performance.now() - start, lat };
    } finally {
      s.close();
    }
  };
}

const VARIANTS = [
  { name: 'client sendWindow 1', run: withWindow(1) },
  { name: 'client sendWindow 4', run: withWindow(4) },
  { name: 'client sendWindow 16', run: withWindow(16) },
  { name: 'socket.io-client, 1 in flight', run: plain(1) },
  { name: 'socket.io-client, all at once', run: plain(Infinity) },
].filter((v) => !process.env.VARIANTS || process.env.VARIANTS.split(',').includes(v.name));

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const d = await startDaemon({ hubs: path.join(BENCH, 'hubs'), records: path.join(BENCH, 'records'), store: 'embedded' });
const loadBefore = loadavg();
const results = new Map(VARIANTS.map((v) => [v.name, []]));
try {
  const bodies = Array.from({ length: N }, (_, i) => String(i));
  let room = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, v] of VARIANTS.entries()) {
      const { ms, lat } = await v.run(d.url, `bench-${room++}`, i, bodies);
      lat.sort((a, b) => a - b);
      const row = { rate: (N * 1000) / ms, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
      results.get(v.name).push(row);
      process.stderr.write(`round ${r + 1} ${v.name}: ${row.rate.toFixed(0)} msgs/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms\n`);
    }
  }
} finally {
  await d.close();
}
const loadAfter = loadavg();

console.log(`N=${N} messages, one client, one room, embedded store; median of ${ROUNDS} rounds; load average ${loadBefore} before, ${loadAfter} after`);
console.log('');
console.log('| variant | msgs/s | ack p50 ms | ack p99 ms |');
console.log('|---|---:|---:|---:|');
for (const [name, rows] of results) {
  const m = (k) => median(rows.map((x) => x[k]));
  console.log(`| ${name} | ${m('rate').toFixed(0)} | ${m('p50').toFixed(2)} | ${m('p99').toFixed(2)} |`);
}
