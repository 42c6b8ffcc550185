// Hub logic end to end: the example tic-tac-toe hub (configs/) played by
// real socket.io clients, and the logicLab fixture hub for handler targets,
// ordering under concurrent senders, runaway scripts and scheduled actions.

import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
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
  startDaemon,
  tempDir,
  waitForEvent,
} from './lib/harness.mjs';

const CONFIGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs');
const LOGIC = path.join(FIXTURES, 'logic');
const GAME = '/hub/ticTacToe';
const LAB = '/hub/logicLab';
const RUNTIMES = 8;
// The example's turn timeout and clock, shortened so the clock test is quick.
const TURN_TIMEOUT_MS = 1500;
const CLOCK_MS = 200;

let hubd;

/**
 * Hub, record and lib directories: the example game from configs/ (clock
 * and turn timeout shortened) next to the logicLab fixture.
 */
async function assembleDirs() {
  const hubs = await tempDir('hubd-e2e-logic-hubs-');
  const records = await tempDir('hubd-e2e-logic-records-');
  const lib = await tempDir('hubd-e2e-logic-lib-');
  const game = await readFile(path.join(CONFIGS, 'hubs', 'game.yaml'), 'utf8');
  const fastGame = game.replace('intervalMs: 1000', `intervalMs: ${CLOCK_MS}`);
  assert.notEqual(fastGame, game, 'configs/hubs/game.yaml has the 1000ms clock');
  await writeFile(path.join(hubs, 'game.yaml'), fastGame);
  await cp(path.join(LOGIC, 'hubs'), hubs, { recursive: true });
  await cp(path.join(CONFIGS, 'records'), records, { recursive: true });
  await cp(path.join(LOGIC, 'records'), records, { recursive: true });
  // One more game for the concurrency test, played by u5 and u6.
  const games = JSON.parse(await readFile(path.join(CONFIGS, 'records', 'game.json'), 'utf8'));
  games.push({ id: 'game4', title: 'Race', status: 'open', isPublic: true });
  await writeFile(path.join(records, 'game.json'), JSON.stringify(games));
  const players = JSON.parse(await readFile(path.join(CONFIGS, 'records', 'gamePlayer.json'), 'utf8'));
  players.push({ id: 'gp-race-1', gameId: 'game4', userId: 'u5' }, { id: 'gp-race-2', gameId: 'game4', userId: 'u6' });
  await writeFile(path.join(records, 'gamePlayer.json'), JSON.stringify(players));
  const rules = await readFile(path.join(CONFIGS, 'lib', 'tictactoe.js'), 'utf8');
  const fastRules = rules.replace('var TURN_TIMEOUT_MS = 30000;', `var TURN_TIMEOUT_MS = ${TURN_TIMEOUT_MS};`);
  assert.notEqual(fastRules, rules, 'configs/lib/tictactoe.js has the 30s turn timeout');
  await writeFile(path.join(lib, 'tictactoe.js'), fastRules);
  await cp(path.join(LOGIC, 'lib'), lib, { recursive: true });
  return { hubs, records, lib };
}

before(async () => {
  const dirs = await assembleDirs();
  hubd = await startDaemon({ ...dirs, env: { HUBD_SCRIPTING__RUNTIMES: String(RUNTIMES) } });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
});

function token(userId, roleId = 'user') {
  return makeToken({ userId, roleId });
}

async function joinRoom(nsp, userId, roomId) {
  const s = await connect(hubd.url, nsp, { token: token(userId) });
  const ack = await emitWithAck(s, 'hub:join', { roomId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return { s, ack };
}

function move(s, roomId, cell) {
  return emitWithAck(s, 'hub:send', { roomId, messageType: 'move', content: { cell } });
}

function op(s, roomId, content) {
  return emitWithAck(s, 'hub:send', { roomId, messageType: 'op', content });
}

const arrived = (s, roomId, pred = () => true) =>
  eventsNamed(s, 'hub:messageArrived', (d) => d.roomId === roomId && pred(d.message));

/** A round trip: whatever the server queued for s before has arrived. */
async function sync(s, roomId) {
  const ack = await emitWithAck(s, 'hub:loadHistory', { roomId, limit: 1 });
  assert.equal(ack.ok, true, JSON.stringify(ack));
}

/** FNV-1a 32-bit, as the script engine picks a room's runtime. */
function runtimeOf(roomId) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(roomId)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % RUNTIMES;
}

describe('tic-tac-toe (configs/hubs/game.yaml)', () => {
  test('two players play a full game; a spectator watches', async () => {
    const room = 'game1';
    const { s: x, ack: xAck } = await joinRoom(GAME, 'u1', room);
    assert.equal(xAck.hubRole, 'player');
    const initial = await waitForEvent(x, 'hub:state', (d) => d.roomId === room);
    assert.deepEqual(initial.state, {
      board: [null, null, null, null, null, null, null, null, null],
      players: { X: null, O: null },
      turn: 'X',
      winner: null,
      finished: false,
      moves: 0,
    });
    const { s: o } = await joinRoom(GAME, 'u2', room);
    const { s: watcher, ack: wAck } = await joinRoom(GAME, 'spectator-9', room);
    assert.equal(wAck.hubRole, 'spectator');

    const first = await move(x, room, 0);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.deepEqual(first.message.content, { cell: 0 });
    assert.equal(first.message.senderId, 'u1');
    assert.ok(first.message.seq > 0, 'moves are persisted');

    const wrongTurn = await move(x, room, 1);
    assert.equal(wrongTurn.ok, false);
    assert.equal(wrongTurn.error.code, 'REJECTED');
    assert.equal(wrongTurn.error.message, 'it is not your turn');
    await waitForEvent(x, 'hub:error', (d) => d.code === 'REJECTED' && d.roomId === room);

    const spectatorMove = await move(watcher, room, 4);
    assert.equal(spectatorMove.ok, false);
    assert.equal(spectatorMove.error.code, 'FORBIDDEN');

    const taken = await move(o, room, 0);
    assert.equal(taken.error.code, 'REJECTED');
    assert.equal(taken.error.message, 'cell 0 is taken');

    for (const [s, cell] of [[o, 3], [x, 1], [o, 4], [x, 2]]) {
      const ack = await move(s, room, cell);
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    for (const s of [x, o, watcher]) {
      const over = await waitForEvent(
        s,
        'hub:messageArrived',
        (d) => d.roomId === room && d.message.messageType === 'system',
      );
      assert.equal(over.message.senderId, 'system');
      assert.equal(over.message.content.systemAction, 'gameOver');
      assert.equal(over.message.content.systemData.winner, 'X');
      assert.equal(over.message.content.systemData.reason, 'line');
      assert.deepEqual(over.message.content.systemData.players, { X: 'u1', O: 'u2' });
    }
    // Everyone saw the accepted moves, and only those, in order.
    const cells = arrived(watcher, room, (m) => m.messageType === 'move').map((d) => d.message.content.cell);
    assert.deepEqual(cells, [0, 3, 1, 4, 2]);
    const seqs = arrived(watcher, room).map((d) => d.message.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));

    const late = await move(o, room, 8);
    assert.equal(late.error.code, 'REJECTED');
    assert.equal(late.error.message, 'the game is over');

    // hub:requestState answers the requester only.
    const before = eventsNamed(x, 'hub:state').length;
    const req = await emitWithAck(o, 'hub:requestState', { roomId: room });
    assert.equal(req.ok, true, JSON.stringify(req));
    const fin = await waitForEvent(o, 'hub:state', (d) => d.roomId === room && d.state.finished);
    assert.deepEqual(fin.state.board, ['X', 'X', 'X', 'O', 'O', null, null, null, null]);
    assert.equal(fin.state.winner, 'X');
    await sync(x, room);
    assert.equal(eventsNamed(x, 'hub:state').length, before);

    // The game is in the history too (persisted moves and the system message).
    const hist = await emitWithAck(watcher, 'hub:loadHistory', { roomId: room });
    assert.equal(hist.ok, true);
    assert.deepEqual(
      hist.messages.map((m) => m.messageType),
      ['move', 'move', 'move', 'move', 'move', 'system'],
    );
    for (const s of [x, o, watcher]) s.disconnect();
  });

  test('concurrent moves of both players are processed strictly in order', async () => {
    const room = 'game4';
    const { s: x } = await joinRoom(GAME, 'u5', room);
    const { s: o } = await joinRoom(GAME, 'u6', room);
    const { s: watcher } = await joinRoom(GAME, 'race-watcher', room);
    assert.equal((await move(x, room, 0)).ok, true);
    // Both fire their moves at once, without waiting for acks.
    const [oAcks, xAcks] = await Promise.all([
      Promise.all([1, 2, 3].map((c) => move(o, room, c))),
      Promise.all([4, 5, 6].map((c) => move(x, room, c))),
    ]);
    const accepted = [...oAcks, ...xAcks].filter((k) => k.ok);
    for (const k of [...oAcks, ...xAcks].filter((k) => !k.ok)) assert.equal(k.error.code, 'REJECTED');
    await emitWithAck(watcher, 'hub:requestState', { roomId: room });
    const st = await waitForEvent(watcher, 'hub:state', (d) => d.roomId === room && d.state.moves === accepted.length + 1);
    const moves = arrived(watcher, room, (m) => m.messageType === 'move').map((d) => d.message);
    assert.equal(moves.length, accepted.length + 1);
    // Accepted moves alternate between the players, as the handler saw them.
    moves.forEach((m, i) => assert.equal(m.senderId, i % 2 === 0 ? 'u5' : 'u6', JSON.stringify(moves)));
    const board = Array(9).fill(null);
    moves.forEach((m, i) => {
      board[m.content.cell] = i % 2 === 0 ? 'X' : 'O';
    });
    assert.deepEqual(st.state.board, board);
    for (let i = 1; i < moves.length; i++) assert.ok(moves[i].seq > moves[i - 1].seq);
    for (const s of [x, o, watcher]) s.disconnect();
  });

  test('the clock ends a game whose player lets the turn time out', async () => {
    const room = 'game2';
    const { s: x } = await joinRoom(GAME, 'u3', room);
    const { s: o } = await joinRoom(GAME, 'u4', room);
    assert.equal((await move(x, room, 4)).ok, true);
    const start = Date.now();
    assert.equal((await move(o, room, 0)).ok, true);
    // X does not move again.
    const over = await waitForEvent(
      o,
      'hub:messageArrived',
      (d) => d.roomId === room && d.message.messageType === 'system',
    );
    const waited = Date.now() - start;
    assert.equal(over.message.content.systemData.reason, 'timeout');
    assert.equal(over.message.content.systemData.winner, 'O');
    assert.ok(waited >= TURN_TIMEOUT_MS - 50, `game ended after ${waited}ms`);
    assert.ok(waited < TURN_TIMEOUT_MS + 5 * CLOCK_MS + 1000, `game ended after ${waited}ms`);
    x.disconnect();
    o.disconnect();
  });
});

describe('hub logic (fixtures/logic)', () => {
  test('scheduled action ticks arrive while the room has members', async () => {
    const { s } = await joinRoom(LAB, 'pulse-user', 'lab1');
    await waitForEvent(s, 'hub:messageArrived', (d) => d.roomId === 'lab1' && d.message.content.systemData?.n >= 3);
    const ns = arrived(s, 'lab1', (m) => m.content.systemAction === 'pulse').map((d) => d.message.content.systemData.n);
    // Ticks of one room are consecutive: none lost or run twice.
    for (let i = 1; i < ns.length; i++) assert.equal(ns[i], ns[i - 1] + 1, JSON.stringify(ns));
    const pulse = arrived(s, 'lab1', (m) => m.content.systemAction === 'pulse')[0].message;
    assert.equal(pulse.senderId, 'system');
    assert.equal(pulse.seq, 0, 'persist: false is not stored');
    s.disconnect();
  });

  test('broadcastTo, persist and server message targets', async () => {
    const room = 'lab2';
    const { s: a } = await joinRoom(LAB, 'ua', room);
    const { s: b } = await joinRoom(LAB, 'ub', room);
    const { s: c } = await joinRoom(LAB, 'uc', room);
    const isOp = (kind) => (m) => m.messageType === 'op' && m.content.kind === kind;

    const toB = await op(a, room, { kind: 'toUsers', targets: 'ub' });
    assert.equal(toB.ok, true, JSON.stringify(toB));
    assert.equal(toB.message.seq, 0, 'not persisted');
    assert.ok(toB.message.id);
    await waitForEvent(b, 'hub:messageArrived', (d) => isOp('toUsers')(d.message));

    const others = await op(a, room, { kind: 'toOthers' });
    assert.equal(others.ok, true);
    assert.ok(others.message.seq > 0, 'persisted by default');
    await waitForEvent(b, 'hub:messageArrived', (d) => isOp('toOthers')(d.message));
    await waitForEvent(c, 'hub:messageArrived', (d) => isOp('toOthers')(d.message));

    const receipt = await op(b, room, { kind: 'toSender' });
    assert.equal(receipt.ok, true);
    const r = await waitForEvent(b, 'hub:messageArrived', (d) => d.message.content.systemAction === 'receipt');
    assert.deepEqual(r.message.content.systemData, { from: 'ub' });

    // A last message to everyone orders the checks: what a socket was sent
    // earlier has arrived before it.
    const last = await op(c, room, { kind: 'toOthers' });
    assert.equal(last.ok, true);
    await waitForEvent(a, 'hub:messageArrived', (d) => d.message.id === last.message.id);
    await waitForEvent(b, 'hub:messageArrived', (d) => d.message.id === last.message.id);
    await sync(c, room);

    assert.equal(arrived(c, room, isOp('toUsers')).length, 0, 'c was not a target');
    assert.equal(arrived(a, room, isOp('toUsers')).length, 0, 'a sent it to b only');
    assert.equal(arrived(a, room, (m) => m.id === others.message.id).length, 0, 'others excludes the sender');
    assert.equal(arrived(b, room, isOp('toSender')).length, 0, 'broadcast: false');
    assert.equal(arrived(a, room, (m) => m.content.systemAction === 'receipt').length, 0);
    assert.equal(arrived(c, room, (m) => m.content.systemAction === 'receipt').length, 0);

    const rejected = await op(a, room, { kind: 'reject' });
    assert.equal(rejected.error.code, 'REJECTED');
    assert.equal(rejected.error.message, 'not today');
    for (const s of [a, b, c]) s.disconnect();
  });

  test('concurrent senders in one room are handled strictly in order', async () => {
    const room = 'lab3';
    const { s: a } = await joinRoom(LAB, 'ca', room);
    const { s: b } = await joinRoom(LAB, 'cb', room);
    const { s: watcher } = await joinRoom(LAB, 'cw', room);
    const per = 40;
    const burst = (s) => Array.from({ length: per }, () => op(s, room, { kind: 'count' }));
    const [acksA, acksB] = await Promise.all([Promise.all(burst(a)), Promise.all(burst(b))]);
    for (const acks of [acksA, acksB]) {
      assert.ok(acks.every((k) => k.ok), JSON.stringify(acks.find((k) => !k.ok)));
      // One sender's messages are handled in the order it sent them.
      const counts = acks.map((k) => k.message.content.count);
      assert.deepEqual(counts, [...counts].sort((x, y) => x - y));
    }
    await waitForEvent(watcher, 'hub:messageArrived', (d) => d.message.content.count === 2 * per);
    const seen = arrived(watcher, room, (m) => m.content.kind === 'count').map((d) => d.message);
    // The handler's order is the broadcast order and the stored order.
    assert.deepEqual(
      seen.map((m) => m.content.count),
      Array.from({ length: 2 * per }, (_, i) => i + 1),
    );
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].seq > seen[i - 1].seq);
    for (const s of [a, b, watcher]) s.disconnect();
  });

  test('a repeated clientMessageId returns the stored message without running the handler again', async () => {
    const room = 'lab7';
    const { s: a } = await joinRoom(LAB, 'ia', room);
    const { s: watcher } = await joinRoom(LAB, 'iw', room);
    const send = (clientMessageId) =>
      emitWithAck(a, 'hub:send', { roomId: room, messageType: 'op', content: { kind: 'count' }, clientMessageId });
    const first = await send('idem-1');
    assert.equal(first.ok, true, JSON.stringify(first));
    const n = first.message.content.count;
    // Sequential and concurrent repeats, one of them racing a new id.
    const again = await send('idem-1');
    const [r1, r2, other] = await Promise.all([send('idem-1'), send('idem-1'), send('idem-2')]);
    for (const k of [again, r1, r2]) {
      assert.equal(k.ok, true, JSON.stringify(k));
      assert.deepEqual(k.message, first.message, 'the stored original');
    }
    assert.equal(other.message.content.count, n + 1, 'the handler ran once for idem-1');
    const [o1, o2] = await Promise.all([send('idem-3'), send('idem-3')]);
    assert.equal(o1.message.id, o2.message.id);
    assert.equal(o1.message.content.count, n + 2);
    const next = await send(undefined);
    assert.equal(next.message.content.count, n + 3, 'no handler call was lost or repeated');
    await waitForEvent(watcher, 'hub:messageArrived', (d) => d.message.id === next.message.id);
    const ids = arrived(watcher, room, (m) => m.content.kind === 'count').map((d) => d.message.id);
    assert.deepEqual(ids, [first.message.id, other.message.id, o1.message.id, next.message.id], 'each message broadcast once');
    a.disconnect();
    watcher.disconnect();
  });

  test('a runaway handler is stopped at its deadline while other rooms keep working', async () => {
    const busy = 'lab4';
    const calm = ['lab5', 'lab6', 'lab7', 'lab8'].find((r) => runtimeOf(r) !== runtimeOf(busy));
    assert.ok(calm, 'a room on another runtime');
    const { s: a } = await joinRoom(LAB, 'ra', busy);
    const { s: b } = await joinRoom(LAB, 'rb', calm);

    const start = Date.now();
    const runaway = op(a, busy, { kind: 'runaway' });
    let calmDone = 0;
    for (let i = 0; i < 5; i++) {
      const ack = await op(b, calm, { kind: 'count' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      calmDone = Date.now() - start;
    }
    const ack = await runaway;
    const took = Date.now() - start;
    assert.ok(calmDone < took, `the calm room (${calmDone}ms) finished before the runaway one (${took}ms)`);
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, 'REJECTED');
    assert.equal(ack.error.message, 'message handler timed out');
    assert.ok(took >= 450 && took < 3000, `runaway stopped after ${took}ms (deadline 500ms)`);

    const thrown = await op(a, busy, { kind: 'throw' });
    assert.equal(thrown.error.code, 'REJECTED');
    assert.equal(thrown.error.message, 'message handler failed');

    // The room and its runtime work normally afterwards.
    const again = await op(a, busy, { kind: 'count' });
    assert.equal(again.ok, true, JSON.stringify(again));
    a.disconnect();
    b.disconnect();
  });
});
