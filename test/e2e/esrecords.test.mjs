// Rooms and memberships read from Elasticsearch (recordSource.kind
// elasticsearch): the fixture records are indexed into the stand-in of
// pkg/records/esfake (test/e2e/tools/esfake; no real Elasticsearch can run
// here), and every join of the authorization matrix gives the same answer
// as with the embedded records directory. With the stand-in gone, joins
// fail with UNAVAILABLE.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, tempDir, TIMEOUT_MS } from './lib/harness.mjs';
import { connectAs, FEATURES, FROOMS, PEOPLE, refusedWith, startFeatures } from './lib/features.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

// hub, user, extra claims, room: the matrix of pgrecords.test.mjs
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

/** The esfake tool binary: HUBD_ESFAKETOOL, else built into a temp dir. */
async function esfakeTool() {
  if (process.env.HUBD_ESFAKETOOL) return path.resolve(process.env.HUBD_ESFAKETOOL);
  const out = path.join(await tempDir('hubd-esfaketool-'), 'esfake');
  const r = spawnSync('go', ['build', '-o', out, './test/e2e/tools/esfake'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build test/e2e/tools/esfake: ${r.stderr}`);
  return out;
}

/** Starts the stand-in loaded with dir; resolves with { url, child }. */
async function startES(dir) {
  const child = spawn(await esfakeTool(), ['--records', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('esfake tool not ready')), TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`esfake tool exited ${code}`)));
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(JSON.parse(l));
    });
  });
  child.exited = new Promise((resolve) => child.once('exit', resolve));
  return { ...ready, child };
}

/** Starts a features daemon whose records come from the cluster at url. */
async function startOnES(url) {
  const config = path.join(await tempDir('hubd-esconfig-'), 'hubd.yaml');
  await writeFile(
    config,
    ['recordSource:', '  kind: elasticsearch', '  queryTimeout: 2s', '  elasticsearch:', `    urls: [${JSON.stringify(url)}]`, ''].join('\n'),
  );
  return startFeatures({ store: 'embedded', args: ['--config', config], env: { HUBD_STORE: 'embedded' } });
}

describe('records from Elasticsearch', () => {
  let es;
  let embedded;
  let daemon;

  before(async () => {
    es = await startES(FEATURES.records);
    embedded = await startFeatures({ store: 'embedded' });
    daemon = await startOnES(es.url);
  });

  after(async () => {
    disconnectAll();
    await embedded?.close();
    await daemon?.close();
    if (es && es.child.exitCode === null && es.child.signalCode === null) {
      es.child.stdin.end();
      await es.child.exited;
    }
  });

  test('every join has the same outcome as with embedded records', async () => {
    const seen = new Set();
    for (const j of JOINS) {
      const want = await outcome(embedded, j);
      const got = await outcome(daemon, j);
      assert.deepEqual(got, want, `${j.hub} ${j.user} ${JSON.stringify(j.claims)} ${j.room}`);
      seen.add(want.ok ? `ok:${want.hubRole}` : want.code);
    }
    // The matrix reaches every kind of answer.
    for (const k of ['ok:system', 'ok:owner', 'ok:member', 'ok:writer', 'ok:null', 'ok:guest', 'ok:host', 'ok:attendee', 'FORBIDDEN', 'ROOM_NOT_FOUND', 'ROOM_NOT_ELIGIBLE']) {
      assert.ok(seen.has(k), `the matrix never produced ${k}: ${[...seen]}`);
    }
  });

  test('the daemon really reads the cluster: a membership indexed there grants the join', async () => {
    const j = { hub: 'gate', user: 'mallory', claims: {}, room: 'random' };
    assert.equal((await outcome(daemon, j)).code, 'FORBIDDEN');
    const res = await fetch(`${es.url}/_esfake/index/chatMember`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'added-1', userId: PEOPLE.mallory.userId, roomId: FROOMS.random, status: 'active' }]),
    });
    assert.equal(res.status, 204, await res.text());
    // Decisions may be cached for the hub's authCacheTTL: poll.
    const end = Date.now() + 20_000;
    let got;
    do {
      got = await outcome(daemon, j);
      if (got.ok) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < end);
    assert.equal(got.ok, true, JSON.stringify(got));
    assert.equal(got.hubRole, 'member');
    assert.equal((await outcome(embedded, j)).code, 'FORBIDDEN', 'the embedded daemon has no such record');
  });

  test('with the cluster gone, joins fail with UNAVAILABLE and join nothing', async () => {
    es.child.kill('SIGTERM');
    await es.child.exited;
    for (const [hub, user, claims] of [
      ['gate', 'alice', {}],
      ['gate', 'admin', {}],
      ['ops', 'bob', {}],
    ]) {
      const s = await connectAs(daemon, hub, user, { claims });
      const err = await refusedWith(s, 'hub:join', { roomId: FROOMS.general }, 'UNAVAILABLE');
      assert.equal(err.code, 'UNAVAILABLE', `${hub} ${user}`);
      const send = await emitWithAck(s, 'hub:send', { roomId: FROOMS.general, messageType: 'text', content: { body: 'x' } });
      assert.equal(send.error?.code, 'NOT_JOINED', 'the refused join joined nothing');
      s.disconnect();
    }
  });
});
