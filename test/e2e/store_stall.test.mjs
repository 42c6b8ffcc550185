// A PostgreSQL write held up past postgres.writeTimeout (the message table
// locked from another session): the send is answered UNAVAILABLE within the
// timeout and a margin, PostgreSQL cancels the write, and it is never
// stored later; a retry with the same clientMessageId stores it once.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { writeOpenHub } from './lib/cluster.mjs';
import { FEATURES, FROOMS, joinAs, sendText, startFeatures } from './lib/features.mjs';
import { databaseUrl, disconnectAll, emitWithAck, psql, tempDir } from './lib/harness.mjs';
import { ident } from './lib/pgrecords.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL
  ? false
  : 'HUBD_TEST_DATABASE_URL is needed (scripts/test.sh starts PostgreSQL)';

const WRITE_TIMEOUT_MS = 1000;

/** A psql session holding an exclusive lock on table until release(). */
async function lockTable(schema, table) {
  const child = spawn('psql', [databaseUrl(), '-qAt', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c) => {
    out += c;
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.write(`BEGIN; LOCK TABLE ${ident(schema)}.${ident(table)} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n`);
  for (let i = 0; !out.includes('locked'); i++) {
    if (i > 400) throw new Error('the table lock was not taken');
    await new Promise((r) => setTimeout(r, 25));
  }
  return async () => {
    child.stdin.end('ROLLBACK;\n');
    await exited;
  };
}

describe('PostgreSQL stalls a write', { skip }, () => {
  let hubs;
  let d;

  before(async () => {
    hubs = await tempDir('hubd-e2e-stall-hubs-');
    await writeOpenHub(hubs, 'stall', { historyLimit: 50 });
    d = await startFeatures({
      store: 'postgres', hubs, records: FEATURES.records,
      env: { HUBD_POSTGRES__WRITE_TIMEOUT: `${WRITE_TIMEOUT_MS}ms` },
    });
  });

  after(async () => {
    disconnectAll();
    await d?.close();
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  test('UNAVAILABLE within writeTimeout, never stored later; the retry stores it once', async (t) => {
    const room = FROOMS.room8;
    const alice = (await joinAs(d, 'stall', 'alice', room)).socket;
    const first = await sendText(alice, room, 'first');
    const table = psql(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = '${d.pgSchema}' AND column_name = 'clientMessageId';`,
    ).trim();
    const release = await lockTable(d.pgSchema, table);
    let ack;
    let took;
    try {
      const start = Date.now();
      ack = await emitWithAck(alice, 'hub:send', {
        roomId: room, messageType: 'text', content: { body: 'stalled' }, clientMessageId: 'stalled-1',
      });
      took = Date.now() - start;
    } finally {
      await release();
    }
    t.diagnostic(`answer after ${took} ms with writeTimeout ${WRITE_TIMEOUT_MS} ms`);
    assert.equal(ack.ok, false, JSON.stringify(ack));
    assert.equal(ack.error.code, 'UNAVAILABLE', 'PostgreSQL cancelled the write: a definite answer');
    assert.ok(took < WRITE_TIMEOUT_MS + 700, `answered after ${took} ms`);

    // The lock is gone: the cancelled write did not go through after all.
    const next = await sendText(alice, room, 'next');
    assert.equal(next.seq, first.seq + 1, 'the failed write used no seq');
    const retry = await sendText(alice, room, 'stalled', { clientMessageId: 'stalled-1' });
    assert.equal(retry.seq, first.seq + 2, 'the retry is stored now, once');
    const hist = await emitWithAck(alice, 'hub:loadHistory', { roomId: room });
    assert.deepEqual(
      hist.messages.map((m) => m.content.body),
      ['first', 'next', 'stalled'],
    );
  });
});
