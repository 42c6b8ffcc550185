// Deduplication and the rejoin hold of RoomState, without a daemon.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RoomState, SEEN_WINDOW } from '../dist/esm/room.js';

test('a message id is accepted once and lastSeq/lastId follow the highest seq', () => {
  const st = new RoomState('r');
  assert.equal(st.accept('a', 1), true);
  assert.equal(st.accept('b', 3), true);
  assert.equal(st.accept('a', 1), false);
  assert.equal(st.accept('c', 2), true, 'a lower seq not seen before (an approved message) is delivered');
  assert.equal(st.lastSeq, 3);
  assert.equal(st.lastId, 'b');
});

test('ids that fell out of the window are still refused by their seq', () => {
  const st = new RoomState('r');
  for (let i = 1; i <= SEEN_WINDOW + 5; i++) assert.equal(st.accept(`m${i}`, i), true);
  assert.equal(st.accept('m1', 1), false);
  assert.equal(st.accept('m5', 5), false);
  assert.equal(st.accept(`m${SEEN_WINDOW + 5}`, SEEN_WINDOW + 5), false);
});

test('an approved message below the window is delivered once (checked by id)', () => {
  const st = new RoomState('r');
  for (let i = 2; i <= SEEN_WINDOW + 5; i++) assert.equal(st.accept(`m${i}`, i), true);
  assert.equal(st.accept('pending', 1), false, 'a seq below the window without approval');
  assert.equal(st.accept('pending', 1, true), true, 'approved long after its seq was given');
  assert.equal(st.accept('pending', 1, true), false, 'once');
});

test('release returns held messages in seq order and forgets them', () => {
  const st = new RoomState('r');
  st.held.push({ id: 'x', seq: 9 }, { id: 'y', seq: 7 });
  assert.deepEqual(st.release().map((m) => m.seq), [7, 9]);
  assert.deepEqual(st.held, []);
});
