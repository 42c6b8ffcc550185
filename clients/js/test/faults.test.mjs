// The outbox against the daemon's own answers to a failing database: hubd
// on PostgreSQL through a TCP proxy that freezes the database right after
// a COMMIT went out (the commit is carried out, its answer never comes:
// the daemon answers OUTCOME_UNKNOWN after postgres.writeTimeout) or
// closes and refuses its connections (UNAVAILABLE). A client streams sends
// to a room through the fault: every send is stored once, in send() order,
// and resolves once with the stored message, never by an attempt answered
// UNAVAILABLE (by its timestamp); another member gets each
// message once, in seq order. With sendWindow 4 the same, except that a
// retried send may be stored after up to 3 sends made after it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { databaseUrl } from '../../../test/e2e/lib/harness.mjs';
import { startFeatures } from '../../../test/e2e/lib/features.mjs';
import { NetDrop } from '../../../test/e2e/lib/netdrop.mjs';
import { bodies, clientOf, FROOMS, reader, sendAll, storedInOrder, streamStarted, until } from './lib.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL
  ? false
  : 'HUBD_TEST_DATABASE_URL is needed (scripts/test.sh starts PostgreSQL)';

// pgx runs COMMIT as a cached prepared statement of this name: a Bind
// message ('B', int32 length, portal "", statement name) of it means the
// commit is on its way to PostgreSQL.
const COMMIT_STMT = Buffer.from(`\0stmtcache_${createHash('sha256').update('COMMIT').digest('hex').slice(0, 48)}\0`);

/** Whether a chunk hubd sends to PostgreSQL binds the COMMIT statement. */
function bindsCommit(chunk) {
  const i = chunk.indexOf(COMMIT_STMT);
  return i >= 5 && chunk[i - 5] === 0x42;
}

/** The faults, each with the code the daemon must answer a send with while it lasts. */
const FAULTS = [
  {
    name: 'the database freezes right after a COMMIT went out',
    code: 'OUTCOME_UNKNOWN',
    committed: true,
    start: (db) => db.freeze(bindsCommit),
  },
  {
    name: 'the database closes and refuses connections',
    code: 'UNAVAILABLE',
    start: (db) => db.refuse(),
  },
];

/**
 * Send windows: 1 keeps send() order; with w a retried send may land after
 * up to w - 1 later sends, and each is still stored once.
 */
const WINDOWS = [1, 4];

describe('@hubd/client sends while the daemon\'s PostgreSQL fails', { skip }, () => {
  let db;
  let d;

  before(async () => {
    const url = new URL(databaseUrl());
    db = await new NetDrop(url.host).start();
    const viaProxy = new URL(url);
    viaProxy.host = db.addr;
    d = await startFeatures({
      store: 'postgres',
      env: { HUBD_POSTGRES__DSN: viaProxy.href, HUBD_POSTGRES__WRITE_TIMEOUT: '1s' },
    });
  });

  after(async () => {
    await d?.close();
    await db?.close();
  });

  for (const [i, { fault, window }] of FAULTS.flatMap((fault) => WINDOWS.map((window) => ({ fault, window }))).entries()) {
    const what = window === 1 ? 'in send() order' : `overtaken by at most ${window - 1} later sends`;
    test(`sendWindow ${window}, ${fault.name}: ${fault.code}, then every send stored once, ${what}, acked once`, async (t) => {
      const room = FROOMS[`room${4 + i}`];
      // The daemon answers within writeTimeout and a margin: before the ack timeout.
      const bob = clientOf(d.url, 'ops', 'bob', { ackTimeoutMs: 5000, sendWindow: window });
      const dave = clientOf(d.url, 'ops', 'dave');
      const r = reader(dave, room);
      const retries = [];
      const failed = []; // attempts answered with an error: { cmid, sentAt, code, answeredAt }
      const sentAt = new Map(); // clientMessageId -> when its last attempt left
      bob.socket.onAnyOutgoing((event, p) => event === 'hub:send' && sentAt.set(p.clientMessageId, Date.now()));
      bob.on('sendRetry', (x) => {
        retries.push(x.error.code);
        const cmid = x.clientMessageId;
        failed.push({ cmid, sentAt: sentAt.get(cmid), code: x.error.code, answeredAt: Date.now() });
      });
      await bob.join(room);
      await dave.join(room);

      const first = bodies('f', 40);
      const sends = await streamStarted(bob, room, first, 5);
      fault.start(db);
      await until(() => retries.includes(fault.code), { what: `a send answered ${fault.code}`, timeoutMs: 15_000 });
      const later = bodies('l', 20);
      sends.push(...sendAll(bob, room, later)); // while the database is down
      const seen = retries.length;
      await until(() => retries.length >= seen + 2, { what: 'more retries while the database is down', timeoutMs: 15_000 });
      db.restore();

      const acked = await Promise.all(sends);
      const sent = [...first, ...later];
      t.diagnostic(`retries by code: ${JSON.stringify(count(retries))}`);
      assert.ok(retries.includes(fault.code), `the daemon answered ${fault.code}`);
      const overtaken = await storedInOrder(dave, room, sent, acked, { window });
      t.diagnostic(`most later sends stored before one send: ${overtaken}`);
      assert.equal(bob.pendingSends(room).length, 0, 'the outbox is empty');
      // A message's timestamp is taken by the attempt that stores it: the
      // attempts answered UNAVAILABLE did not store theirs.
      const storedAt = (cmid) => Date.parse(acked.find((m) => m.clientMessageId === cmid).timestamp);
      const by = (a) => storedAt(a.cmid) >= a.sentAt && storedAt(a.cmid) <= a.answeredAt;
      for (const a of failed.filter((x) => x.code === 'UNAVAILABLE')) {
        assert.ok(!by(a), `${a.cmid}: stored by an attempt answered UNAVAILABLE`);
      }
      if (fault.committed) {
        // The commit went out before the freeze: the attempt answered
        // OUTCOME_UNKNOWN stored the message, and the retry returned it
        // instead of storing it again.
        const a = failed.find((x) => x.code === 'OUTCOME_UNKNOWN');
        assert.ok(by(a), `${a.cmid}: stored by the attempt whose outcome was unknown`);
      }
      await until(() => r.got.length >= sent.length, { what: `dave has all ${sent.length} messages`, timeoutMs: 15_000 });
      r.check(sent);
      bob.close();
      dave.close();
    });
  }
});

/** How many times each value occurs. */
function count(list) {
  const n = {};
  for (const v of list) n[v] = (n[v] ?? 0) + 1;
  return n;
}
