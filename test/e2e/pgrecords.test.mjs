// Rooms and memberships read from PostgreSQL (recordSource.kind postgres):
// the fixture records are loaded into tables of a fresh schema, and every
// join of the authorization matrix gives the same answer as with the
// embedded records directory.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, psql, uniqueSchema } from './lib/harness.mjs';
import { connectAs, FEATURES, FROOMS, PEOPLE, startFeatures } from './lib/features.mjs';
import { ident, literal, recordsSQL } from './lib/pgrecords.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL ? false : 'HUBD_TEST_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)';

// hub, user, extra claims, room
const JOINS = [];
for (const room of ['general', 'archive', 'random', 'missing', 'room1']) {
  for (const [user, claims] of [
    ['admin', {}],
    ['alice', {}],
    ['bob', {}],
    ['carol', {}],
    ['dave', {}],
    ['mallory', {}],
    ['mallory', { vip: true }],
    ['mallory', { vip: true, banned: true }],
    ['erin', { roleId: 'guest' }],
  ]) {
    JOINS.push({ hub: 'gate', user, claims, room });
  }
  JOINS.push({ hub: 'webinar', user: 'alice', claims: { roleId: 'host' }, room });
  JOINS.push({ hub: 'webinar', user: 'bob', claims: {}, room });
}

/** The observable outcome of one join. */
async function outcome(daemon, j) {
  const s = await connectAs(daemon, j.hub, j.user, { claims: j.claims });
  const ack = await emitWithAck(s, 'hub:join', { roomId: FROOMS[j.room] });
  s.disconnect();
  return ack.ok
    ? { ok: true, hubRole: ack.hubRole, permissions: ack.permissions, silenced: ack.silenced }
    : { ok: false, code: ack.error.code, layer: ack.error.details?.layer ?? null };
}

describe('records from PostgreSQL', { skip }, () => {
  let schema;
  let embedded;
  let pg;

  before(async () => {
    schema = uniqueSchema('e2e_rec');
    psql(await recordsSQL(FEATURES.records, schema));
    embedded = await startFeatures({ store: 'embedded' });
    pg = await startFeatures({
      store: 'embedded',
      env: {
        HUBD_RECORDSOURCE__KIND: 'postgres',
        HUBD_RECORDSOURCE__SCHEMA: schema,
        HUBD_POSTGRES__DSN: process.env.HUBD_TEST_DATABASE_URL,
        HUBD_STORE: 'embedded',
      },
    });
  });

  after(async () => {
    disconnectAll();
    await embedded?.close();
    await pg?.close();
    if (schema) psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
  });

  test('every join has the same outcome as with embedded records', async () => {
    const seen = new Set();
    for (const j of JOINS) {
      const want = await outcome(embedded, j);
      const got = await outcome(pg, j);
      assert.deepEqual(got, want, `${j.hub} ${j.user} ${JSON.stringify(j.claims)} ${j.room}`);
      seen.add(want.ok ? `ok:${want.hubRole}` : want.code);
    }
    // The matrix reaches every kind of answer.
    for (const k of ['ok:system', 'ok:owner', 'ok:member', 'ok:writer', 'ok:null', 'ok:guest', 'ok:host', 'ok:attendee', 'FORBIDDEN', 'ROOM_NOT_FOUND', 'ROOM_NOT_ELIGIBLE']) {
      assert.ok(seen.has(k), `the matrix never produced ${k}: ${[...seen]}`);
    }
  });

  test('the daemon really reads PostgreSQL: a membership row added there grants the join', async () => {
    const j = { hub: 'gate', user: 'mallory', claims: {}, room: 'random' };
    assert.equal((await outcome(pg, j)).code, 'FORBIDDEN');
    psql(
      `INSERT INTO ${ident(schema)}."chatMember" (id, "userId", "roomId", status) VALUES ('added-1', ${literal(PEOPLE.mallory.userId)}, ${literal(FROOMS.random)}, 'active');`,
    );
    // Decisions may be cached for the hub's authCacheTTL: poll.
    const end = Date.now() + 20_000;
    let got;
    do {
      got = await outcome(pg, { ...j, room: 'random' });
      if (got.ok) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < end);
    assert.equal(got.ok, true, JSON.stringify(got));
    assert.equal(got.hubRole, 'member');
    assert.equal((await outcome(embedded, j)).code, 'FORBIDDEN', 'the embedded daemon has no such record');
  });
});
