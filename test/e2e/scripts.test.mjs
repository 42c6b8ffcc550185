// Hub scripts against each other, through the real daemon: hub "evil"
// (fixtures/isolation) pollutes prototypes, globals and kv from its
// authScript and runs a handler that allocates without end; hub "other"
// keeps refusing the users it refused, sees nothing of evil's changes, and
// keeps serving while evil's runaway is stopped by its memory budget.
// docs/security.md, "Hub scripts".

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { connect, disconnectAll, emitWithAck, FIXTURES, psql, startDaemon, uniqueSchema, until, waitForEvent } from './lib/harness.mjs';
import { ROOMS, tokenFor } from './lib/fixtures.mjs';
import { refusedWith } from './lib/features.mjs';
import { ident, recordsSQL } from './lib/pgrecords.mjs';
import { procBytes, refusalDelta, refusals, resetPeakRSS } from './lib/raw.mjs';

const EVIL = '/hub/evil';
const OTHER = '/hub/other';
const BUDGET = 16 << 20;

describe('one hub\'s scripts cannot reach another hub', () => {
  let hubd;

  before(async () => {
    hubd = await startDaemon({
      hubs: path.join(FIXTURES, 'isolation', 'hubs'),
      env: { HUBD_SCRIPTING__MEMORYBUDGET: String(BUDGET), HUBD_SCRIPTING__CALLTIMEOUT: '20s' },
    });
  });

  after(async () => {
    disconnectAll();
    await hubd?.close();
  });

  async function join(nsp, user, claims) {
    const s = await connect(hubd.url, nsp, { token: tokenFor(user, claims) });
    return { s, ack: await emitWithAck(s, 'hub:join', { roomId: ROOMS.general }) };
  }

  test('evil\'s authScript pollutes; other\'s authScript refuses as before, with no grant cached', async () => {
    const before = await join(OTHER, 'mallory');
    assert.equal(before.ack.ok, false, JSON.stringify(before.ack));
    assert.equal(before.ack.error.code, 'FORBIDDEN');
    const member = await join(OTHER, 'alice', { hub: 'other' });
    assert.equal(member.ack.ok, true, JSON.stringify(member.ack));
    assert.equal(member.ack.hubRole, 'member');

    for (const user of ['mallory', 'bob']) {
      const evil = await join(EVIL, user);
      assert.equal(evil.ack.ok, true, JSON.stringify(evil.ack));
    }

    for (const user of ['mallory', 'bob', 'carol']) {
      const s = await connect(hubd.url, OTHER, { token: tokenFor(user) });
      await refusedWith(s, 'hub:join', { roomId: ROOMS.general }, 'FORBIDDEN');
      // Asked again: a refusal is never cached as a grant.
      await refusedWith(s, 'hub:join', { roomId: ROOMS.general }, 'FORBIDDEN');
    }

    // other's handler accepts only while it sees no kv key, no prototype
    // property and no global of evil's.
    const ack = await emitWithAck(member.s, 'hub:send', { roomId: ROOMS.general, messageType: 'note', content: { body: 'clean?' } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  });

  test('evil\'s runaway handler is stopped by its memory budget while other keeps serving', async () => {
    const evil = await join(EVIL, 'alice');
    assert.equal(evil.ack.ok, true, JSON.stringify(evil.ack));
    const talker = await join(OTHER, 'alice', { hub: 'other' });
    const listener = await join(OTHER, 'bob', { hub: 'other' });
    assert.equal(listener.ack.ok, true, JSON.stringify(listener.ack));

    const counts = await refusals(hubd);
    const pid = hubd.child.pid;
    const peakKnown = resetPeakRSS(pid);
    const base = procBytes(pid, 'VmRSS');
    const hog = emitWithAck(evil.s, 'hub:send', { roomId: ROOMS.general, messageType: 'note', content: { body: 'hog' } }, 60_000);
    let served = 0;
    let done = false;
    hog.finally(() => { done = true; });
    while (!done) {
      const sent = await emitWithAck(talker.s, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: `control ${served}` } });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      await waitForEvent(listener.s, 'hub:messageArrived', (d) => d.message?.id === sent.message.id);
      served++;
    }
    const ack = await hog;
    assert.equal(ack.ok, false, JSON.stringify(ack));
    assert.equal(ack.error.code, 'REJECTED');
    assert.equal(ack.error.details?.reason, 'memory', JSON.stringify(ack));
    assert.ok(served > 0, 'other served while evil ran');
    if (peakKnown) {
      const grew = procBytes(pid, 'VmHWM') - base;
      // The budget, plus what the GC lets garbage reach before it runs
      // (the control traffic included): docs/scripting.md, "Limits".
      assert.ok(grew < 3 * BUDGET, `RSS grew by ${grew >> 20} MiB for a ${BUDGET >> 20} MiB budget`);
      process.stderr.write(`evil's runaway: ${served} control round trips meanwhile, peak RSS +${grew >> 20} MiB\n`);
    }

    const repeat = await emitWithAck(evil.s, 'hub:send', { roomId: ROOMS.general, messageType: 'note', content: { body: 'repeat' } });
    assert.equal(repeat.error?.details?.reason, 'memory', JSON.stringify(repeat));
    const delta = refusalDelta(counts, await refusals(hubd));
    assert.equal(delta.script_memory, 2, JSON.stringify(delta));
  });
});

const skipSQL = process.env.HUBD_TEST_DATABASE_URL ? false : 'HUBD_TEST_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)';

describe('sql.query reaches only the hub\'s own tables', { skip: skipSQL }, () => {
  let hubd;
  let records;
  let evil;

  before(async () => {
    records = uniqueSchema('e2e_rec');
    psql(await recordsSQL(path.join(FIXTURES, 'records'), records));
    hubd = await startDaemon({
      hubs: path.join(FIXTURES, 'isolation', 'hubs'),
      store: 'postgres',
      env: { HUBD_SCRIPTING__SQL: 'true', HUBD_RECORDSOURCE__KIND: 'postgres', HUBD_RECORDSOURCE__SCHEMA: records },
    });
    const s = await connect(hubd.url, EVIL, { token: tokenFor('alice') });
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    evil = s;
  });

  after(async () => {
    disconnectAll();
    await hubd?.close();
    if (records) psql(`DROP SCHEMA IF EXISTS ${ident(records)} CASCADE;`);
  });

  /** Has evil's handler run query; resolves with the ack. */
  const run = (query) => emitWithAck(evil, 'hub:send', { roomId: ROOMS.general, messageType: 'note', content: { body: `sql:${query}` } });

  const reach = () => [
    { what: 'its own message table', query: `select count(*) from ${ident(hubd.pgSchema)}."evilMessage"`, ok: true },
    { what: 'the room records its spec names', query: `select name from ${ident(records)}."chatRoom"`, ok: true },
    { what: 'another hub\'s message table', query: `select * from ${ident(hubd.pgSchema)}."otherMessage"`, ok: false },
    { what: 'the shared read marks of every hub', query: `select * from ${ident(hubd.pgSchema)}.hubd_read_marks`, ok: false },
    { what: 'records its spec does not name', query: `select * from ${ident(records)}."chatMember"`, ok: false },
    { what: 'the daemon\'s own role', query: `select set_config('role', '${new URL(process.env.HUBD_TEST_DATABASE_URL).username}', true)`, ok: false },
  ];

  test('own tables readable, everything else denied by PostgreSQL', async () => {
    for (const c of reach()) {
      const ack = await run(c.query);
      if (c.ok) {
        assert.equal(ack.ok, true, `${c.what}: ${JSON.stringify(ack)}`);
      } else {
        assert.equal(ack.ok, false, `${c.what}: ${JSON.stringify(ack)}`);
        assert.equal(ack.error.code, 'REJECTED');
        assert.match(ack.error.message, /permission denied/, `${c.what}: ${JSON.stringify(ack)}`);
      }
    }
  });

  test('an advisory lock taken by a script does not outlive its call', async () => {
    const key = 5_550_123;
    const ack = await run(`select pg_advisory_lock(${key})`);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(() => psql(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = ${key};`).trim() === '0',
      { what: 'the advisory lock released by DISCARD ALL' });
  });
});
