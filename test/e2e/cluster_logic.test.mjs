// Rooms with logic on two nodes (Redis and one PostgreSQL message store):
// each room's handlers and state script run on its owner node only, the
// other node forwards and relays. The example tic-tac-toe game with its
// players on different nodes, an auction with bidders on both nodes
// bidding at once, and the owner killed (SIGKILL) mid-auction.

import assert from 'node:assert/strict';
import { cp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  connect,
  disconnectAll,
  emitWithAck,
  eventsNamed,
  FIXTURES,
  makeToken,
  tempDir,
  uniqueSchema,
  psql,
  waitForEvent,
} from './lib/harness.mjs';
import { NEEDS_PG_AND_REDIS, startNodes } from './lib/cluster.mjs';
import { ident } from './lib/pgrecords.mjs';
import { deleteKeys, uniquePrefix } from './lib/redis.mjs';
import { RestClient } from './lib/rest.mjs';

const skip = NEEDS_PG_AND_REDIS;

const CONFIGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs');
const AUCTION = path.join(FIXTURES, 'auction');
// The lease ttl (pkg/hub/schedule.go, 6 s) plus the other node's next ask
// (a third of it): the longest a room stays without an owner.
const TAKEOVER_MS = 8_000;

async function assembleDirs() {
  const hubs = await tempDir('hubd-e2e-owner-hubs-');
  const records = await tempDir('hubd-e2e-owner-records-');
  const lib = await tempDir('hubd-e2e-owner-lib-');
  await cp(path.join(CONFIGS, 'hubs', 'game.yaml'), path.join(hubs, 'game.yaml'));
  await cp(path.join(CONFIGS, 'records'), records, { recursive: true });
  await cp(path.join(CONFIGS, 'lib', 'tictactoe.js'), path.join(lib, 'tictactoe.js'));
  await cp(path.join(AUCTION, 'hubs'), hubs, { recursive: true });
  await cp(path.join(AUCTION, 'records'), records, { recursive: true });
  await cp(path.join(AUCTION, 'lib'), lib, { recursive: true });
  return { hubs, records, lib };
}

describe('rooms with logic on two nodes: one owner per room', { skip }, () => {
  let dirs;
  let prefix;
  let schema;
  let a;
  let b;

  before(async () => {
    dirs = await assembleDirs();
    prefix = uniquePrefix();
    schema = uniqueSchema('e2e_owner');
    [a, b] = await startNodes(2, { ...dirs, redisAddr: process.env.HUBD_TEST_REDIS_ADDR, redisPrefix: prefix, pgSchema: schema });
  });

  after(async () => {
    disconnectAll();
    await a?.close();
    await b?.close();
    if (prefix) deleteKeys(prefix);
    if (schema) psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
    for (const d of Object.values(dirs ?? {})) await rm(d, { recursive: true, force: true });
  });

  async function join(daemon, nsp, userId, roomId) {
    const s = await connect(daemon.url, nsp, { token: makeToken({ userId, roleId: 'user' }) });
    const ack = await emitWithAck(s, 'hub:join', { roomId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return s;
  }

  async function stateOf(s, roomId) {
    const from = s.received.length;
    const ack = await emitWithAck(s, 'hub:requestState', { roomId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await waitForEvent(s, 'hub:state', (d) => d.roomId === roomId, undefined, { after: from });
    return ev.state;
  }

  test('tic-tac-toe with the players on different nodes', async () => {
    const room = 'game1';
    const x = await join(a, '/hub/ticTacToe', 'u1', room);
    const o = await join(b, '/hub/ticTacToe', 'u2', room);
    const watcher = await join(b, '/hub/ticTacToe', 'spectator-1', room);
    const move = (s, cell) => emitWithAck(s, 'hub:send', { roomId: room, messageType: 'move', content: { cell } });

    const first = await move(x, 0);
    assert.equal(first.ok, true, JSON.stringify(first));
    // The rules run once, on the owner: O moving on node B sees X's move.
    const taken = await move(o, 0);
    assert.equal(taken.ok, false);
    assert.equal(taken.error.message, 'cell 0 is taken');
    const wrongTurn = await move(x, 1);
    assert.equal(wrongTurn.error.message, 'it is not your turn');
    for (const [s, cell] of [[o, 3], [x, 1], [o, 4]]) {
      const ack = await move(s, cell);
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    // The same state whichever node is asked.
    const onA = await stateOf(x, room);
    const onB = await stateOf(o, room);
    assert.deepEqual(onA, onB);
    assert.deepEqual(onA.board, ['X', 'X', null, 'O', 'O', null, null, null, null]);
    assert.equal(onA.turn, 'X');
    assert.deepEqual(onA.players, { X: 'u1', O: 'u2' });

    const win = await move(x, 2);
    assert.equal(win.ok, true, JSON.stringify(win));
    const over = await waitForEvent(watcher, 'hub:messageArrived', (d) => d.roomId === room && d.message.messageType === 'system');
    assert.equal(over.message.content.systemAction, 'gameOver');
    assert.equal(over.message.content.systemData.winner, 'X');
    const cells = eventsNamed(watcher, 'hub:messageArrived', (d) => d.roomId === room && d.message.messageType === 'move').map(
      (d) => d.message.content.cell,
    );
    assert.deepEqual(cells, [0, 3, 1, 4, 2]);
    assert.equal((await stateOf(o, room)).winner, 'X');
  });

  test('bids from both nodes at once are handled strictly in order; the owner killed is taken over', async (t) => {
    const room = 'lot1';
    const nsp = '/hub/auction';
    const bid = (s, amount, clientMessageId) =>
      emitWithAck(s, 'hub:send', { roomId: room, messageType: 'bid', content: { amount }, clientMessageId });

    // Ann's node handles the first bid and so owns the room. Bob joins
    // after it: joined together, both nodes would ask for the room's lease
    // in the same tick of their lease upkeep, and either could win.
    const ann = await join(a, nsp, 'ann', room);
    const opening = await bid(ann, 1);
    assert.equal(opening.ok, true, JSON.stringify(opening));
    const bob = await join(b, nsp, 'bob', room);

    const each = 40;
    const sends = [];
    for (let i = 0; i < each; i++) {
      sends.push(bid(ann, 1000 + 2 * i), bid(bob, 1001 + 2 * i));
    }
    // One more through REST on node B.
    const rest = new RestClient(b, 'auction').call('POST', `/rooms/${room}/messages`, {
      token: makeToken({ userId: 'carl', roleId: 'user' }),
      body: { messageType: 'bid', content: { amount: 5000 } },
    });
    const acks = await Promise.all(sends);
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
    const r = await rest;
    assert.equal(r.status, 201, JSON.stringify(r.body));

    const all = [opening.message, ...acks.map((x) => x.message), r.body.message ?? r.body].sort((m, n) => m.seq - n.seq);
    // One module state: bids numbered 1..N without repeats, in seq order,
    // each seeing the highest bid before it.
    let high = 0;
    all.forEach((m, i) => {
      assert.equal(m.content.n, i + 1, `bid at position ${i}: ${JSON.stringify(m.content)}`);
      assert.equal(m.content.prev, high, `bid ${i + 1} saw the bid before it`);
      high = Math.max(high, m.content.amount);
    });
    const sa = await stateOf(ann, room);
    const sb = await stateOf(bob, room);
    assert.deepEqual(sa, sb);
    assert.deepEqual(sa, { high, bids: all.length });

    // A retry with the same clientMessageId through the other node runs
    // no handler again.
    const once = await bid(bob, 7000, 'retry-1');
    const again = await bid(bob, 7000, 'retry-1');
    assert.equal(again.ok, true, JSON.stringify(again));
    assert.equal(again.message.id, once.message.id);
    assert.equal((await stateOf(ann, room)).bids, all.length + 1);

    // The owner dies: Bob's bids fail with a retryable code until node B
    // takes the room over, within the lease ttl and the next ask.
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    const codes = new Set();
    let taken;
    for (let i = 0; !taken; i++) {
      const ack = await bid(bob, 9000 + i, `after-kill-${i}`);
      if (ack.ok) {
        taken = ack;
        break;
      }
      codes.add(ack.error.code);
      assert.ok(['OUTCOME_UNKNOWN', 'UNAVAILABLE'].includes(ack.error.code), JSON.stringify(ack));
      assert.ok(Date.now() - killedAt < TAKEOVER_MS + 5_000, 'taken over in time');
    }
    const took = Date.now() - killedAt;
    t.diagnostic(`taken over after ${took} ms; refused meanwhile with ${[...codes].join(', ') || 'nothing'}`);
    assert.ok(took < TAKEOVER_MS + 3_000, `taken over after ${took} ms`);
    // The new owner's module state starts afresh (module state is per node).
    assert.equal(taken.message.content.n, 1);
    assert.deepEqual(await stateOf(bob, room), { high: taken.message.content.amount, bids: 1 });
  });
});
