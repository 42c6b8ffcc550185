// Three hubd nodes on loopback, one PostgreSQL message schema and a Redis
// of the suite's own, clients chatting through all three in several rooms
// while one node is restarted (SIGTERM), one is killed (SIGKILL) and
// restarted, and Redis is restarted. Clients of a node that went away
// rejoin another with `since` (their last message). At the end every
// member has every acknowledged message of its room exactly once (live or
// recovered), live messages arrived in seq order on every connection, and
// every acknowledged message is in the store.
//
// CHAOS_MEMBERS (default 90) sets the number of clients.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, makeToken, psql, tempDir, uniqueSchema, until } from './lib/harness.mjs';
import { startNodes, writeOpenHub } from './lib/cluster.mjs';
import { FROOMS } from './lib/features.mjs';
import { ident } from './lib/pgrecords.mjs';
import { PrivateRedis } from './lib/redis.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL
  ? false
  : 'HUBD_TEST_DATABASE_URL is needed (scripts/test.sh starts PostgreSQL)';

const MEMBERS = Number(process.env.CHAOS_MEMBERS ?? 90);
const ROOMS = [FROOMS.room5, FROOMS.room6, FROOMS.room7];
const userId = (i) => `c0a50000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** One client: a user in one room, through whichever node is up. */
class Member {
  constructor(i) {
    this.i = i;
    this.user = userId(i);
    this.room = ROOMS[Math.floor(i / 3) % ROOMS.length]; // every room on every node
    this.seen = new Map(); // id -> message, live or recovered
    this.lastId = null;
    this.sessions = []; // live seqs per connection, in arrival order
    this.socket = null;
  }

  async join(node) {
    const socket = await connect(node.url, '/hub/chaos', { token: makeToken({ userId: this.user, roleId: 'user' }) });
    const live = [];
    this.sessions.push(live);
    socket.on('hub:messageArrived', (d) => {
      if (d.roomId !== this.room) return;
      live.push(d.message.seq);
      this.add(d.message);
    });
    socket.on('hub:history', (d) => {
      if (d.roomId === this.room) for (const m of d.messages) this.add(m);
    });
    const ack = await emitWithAck(socket, 'hub:join', { roomId: this.room, ...(this.lastId ? { since: this.lastId } : {}) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    this.socket = socket;
    this.node = node;
  }

  add(m) {
    this.seen.set(m.id, m);
    const last = this.lastId && this.seen.get(this.lastId);
    if (!last || m.seq > last.seq) this.lastId = m.id;
  }

  get up() {
    return this.socket?.connected;
  }
}

describe('three nodes: restarts, a kill and a Redis restart while traffic flows', { skip }, () => {
  let hubs;
  let schema;
  let redis;
  let nodes;

  before(async () => {
    hubs = await tempDir('hubd-e2e-chaos-hubs-');
    await writeOpenHub(hubs, 'chaos', { historyLimit: 0 });
    schema = uniqueSchema('e2e_chaos');
    redis = await new PrivateRedis().start();
    nodes = await startNodes(3, { hubs, redisAddr: redis.addr, pgSchema: schema });
  });

  after(async () => {
    disconnectAll();
    for (const n of nodes ?? []) await n.close();
    await redis?.close();
    if (schema) psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  test('every member ends with every acknowledged message once; live delivery in seq order', async (t) => {
    const members = Array.from({ length: MEMBERS }, (_, i) => new Member(i));
    for (const m of members) await m.join(nodes[m.i % 3]);
    const acked = new Map(ROOMS.map((r) => [r, []]));
        let stop = false;
    let unknown = 0;
    // Three senders per room, one on each node at first; a sender whose
    // socket is gone skips until it rejoined.
    const senders = members.filter((m) => m.i < ROOMS.length * 3);
    const sendLoop = async (m) => {
      for (let k = 0; !stop; k++) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
        if (!m.up) continue;
        try {
          const ack = await emitWithAck(m.socket, 'hub:send', {
            roomId: m.room, messageType: 'text', content: { body: `m${m.i}-${k}` }, clientMessageId: `m${m.i}-${k}`,
          }, 5000);
          if (ack.ok) {
            acked.get(m.room).push(ack.message);
          } else unknown++;
        } catch {
          unknown++; // the node went away with the send
        }
      }
    };
    const loops = senders.map(sendLoop);
    const rejoinDown = async () => {
      const live = nodes.filter((n) => n.exit === null && n.addr);
      for (const m of members) {
        if (!m.up) await m.join(live[m.i % live.length]);
      }
    };
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));

    await pause(1500);
    t.diagnostic('node 2: SIGTERM and start again');
    await nodes[2].restart();
    await rejoinDown();
    await pause(1500);
    t.diagnostic('node 1: SIGKILL and start again');
    nodes[1].child.kill('SIGKILL');
    await nodes[1].exited;
    await until(() => members.filter((m) => m.node === nodes[1]).every((m) => !m.up), { what: 'node 1 clients disconnected' });
    await rejoinDown();
    await nodes[1].start();
    await pause(1500);
    t.diagnostic('redis: SIGKILL and start again');
    await redis.stop();
    await pause(1000);
    await redis.start();
    await pause(2000);
    stop = true;
    await Promise.all(loops);
    await rejoinDown();

    // A last message per room from a member on node 0: once every member
    // has it, nothing else is on its way.
    const last = new Map();
    for (const room of ROOMS) {
      const m = members.find((x) => x.room === room && x.node === nodes[0] && x.up);
      const ack = await emitWithAck(m.socket, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'last' } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      acked.get(room).push(ack.message);
      last.set(room, ack.message.id);
    }
    await until(() => members.every((m) => m.seen.has(last.get(m.room))), { timeoutMs: 30_000, what: 'every member to receive the last message' });

    let total = 0;
    for (const m of members) {
      const want = acked.get(m.room);
      const missing = want.filter((x) => !m.seen.has(x.id));
      assert.deepEqual(missing.map((x) => x.seq), [], `member ${m.i}: acknowledged messages missing`);
      for (const live of m.sessions) {
        live.forEach((s, k) => k === 0 || assert.ok(s > live[k - 1], `member ${m.i}: live seq ${s} after ${live[k - 1]}`));
      }
      total += want.length;
    }
    // Every acknowledged message is in the store, once.
    const table = psql(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = '${schema}' AND column_name = 'clientMessageId';`,
    ).trim();
    assert.ok(table && !table.includes('\n'), `one message table: ${table}`);
    const stored = psql(`SELECT id::text FROM ${ident(schema)}.${ident(table)};`).trim().split('\n');
    const count = new Map();
    for (const id of stored) count.set(id, (count.get(id) ?? 0) + 1);
    for (const room of ROOMS) {
      const bad = acked.get(room).filter((x) => count.get(x.id) !== 1);
      assert.deepEqual(bad.map((x) => x.id), [], `room ${room}: acknowledged messages not stored exactly once`);
    }
    t.diagnostic(`${MEMBERS} members, ${total / MEMBERS | 0} messages per member on average, ${[...acked.values()].flat().length} acknowledged, ${unknown} sends without an answer`);
  });
});
