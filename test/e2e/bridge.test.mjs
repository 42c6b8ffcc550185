// Kafka bridge: data events of the room and membership DataObjects and a
// kafkaEvents topic reach the clients of a room; the hub's own message
// events are published. The broker is test/e2e/tools/kafka (kfake, in
// memory) and hubd is configured with kafka.brokers/service/topicPattern/group.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import {
  disconnectAll,
  emitWithAck,
  eventsNamed,
  FIXTURES,
  connect,
  psql,
  startDaemon,
  tempDir,
  uniqueSchema,
  TIMEOUT_MS,
  until,
  waitForEvent,
} from './lib/harness.mjs';
import { ROOMS, tokenFor, USERS } from './lib/fixtures.mjs';
import { ident, literal, recordsSQL } from './lib/pgrecords.mjs';
import { RestClient } from './lib/rest.mjs';
import { deleteKeys, uniquePrefix } from './lib/redis.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

const SERVICE = 'e2e';
const HUB = 'bridged';
const NSP = `/hub/${HUB}`;
// A pattern other than the default, so that kafka.topicPattern is exercised.
const TOPIC_PATTERN = '{service}.{objectLower}.{op}';
const topic = (object, op) => `${SERVICE}.${object.toLowerCase()}.${op}`;

/** The kafka tool binary: HUBD_KAFKATOOL, else built into a temp dir. */
async function kafkaTool() {
  if (process.env.HUBD_KAFKATOOL) return path.resolve(process.env.HUBD_KAFKATOOL);
  const out = path.join(await tempDir('hubd-kafkatool-'), 'kafka');
  const r = spawnSync('go', ['build', '-o', out, './test/e2e/tools/kafka'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build test/e2e/tools/kafka: ${r.stderr}`);
  return out;
}

/** Starts the broker; resolves with { brokers, http, child }. */
async function startKafka(args = []) {
  const child = spawn(await kafkaTool(), args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('kafka tool not ready')), TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`kafka tool exited ${code}`)));
    lines.once('line', (l) => {
      clearTimeout(timer);
      resolve(JSON.parse(l));
    });
  });
  return { ...ready, child };
}

let env; // { kafka, hubd, alice, bob }
let setupPromise;

/** One broker and one daemon for the file, started by the first test. */
function setup() {
  setupPromise ??= (async () => {
    const kafka = await startKafka();
    const e = { kafka };
    env = e;
    // Topics exist before the daemon subscribes: the group starts at their end.
    for (const t of [topic('chatRoom', 'updated'), topic('chatRoom', 'deleted'), topic('chatMember', 'created'), 'e2e-scores']) {
      await produce(t, { warmup: true });
    }
    const dir = await tempDir('hubd-e2e-bridge-');
    const cfg = path.join(dir, 'hubd.yaml');
    await writeFile(
      cfg,
      ['kafka:', `  brokers: ["${kafka.brokers}"]`, `  service: ${SERVICE}`, `  topicPattern: "${TOPIC_PATTERN}"`, `  group: e2e-bridge-${process.pid}`, ''].join('\n'),
    );
    e.hubd = await startDaemon({ hubs: path.join(FIXTURES, 'bridge', 'hubs'), args: ['--config', cfg] });
    await e.hubd.waitForLog((l) => l.msg === 'consuming' && Array.isArray(l.topics), {
      what: 'the bridge "consuming" log line',
      timeoutMs: 5_000,
    });
    e.alice = await joined('alice', ROOMS.general);
    e.bob = await joined('bob', ROOMS.general);
    // The consumer has joined its group once one record arrives; until then
    // records produced are skipped (a new group starts at the end).
    let n = 0;
    await until(
      async () => {
        await produce('e2e-scores', { kind: 'score', roomId: ROOMS.general, warm: ++n });
        return eventsNamed(e.alice, 'scoreChanged').length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the bridge consuming' },
    );
    return e;
  })();
  return setupPromise;
}

async function joined(user, roomId) {
  const s = await connect(env.hubd.url, NSP, { token: tokenFor(user) });
  const ack = await emitWithAck(s, 'hub:join', { roomId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

async function produce(t, value, key) {
  const res = await fetch(`${env.kafka.http}/produce`, {
    method: 'POST',
    body: JSON.stringify({ topic: t, value, ...(key ? { key } : {}) }),
  });
  assert.equal(res.status, 204, await res.text());
}

async function records(t, kafka = env.kafka) {
  const res = await fetch(`${kafka.http}/records?topic=${encodeURIComponent(t)}`);
  assert.equal(res.status, 200);
  return res.json();
}

after(async () => {
  disconnectAll();
  await env?.hubd?.close();
  env?.kafka?.child.stdin.end();
});

describe('kafka bridge', () => {
  test('kafkaEvents: filtered records are dropped, matching ones reach the target room', async () => {
    const { alice, bob } = await setup();
    const mark = alice.received.length;
    await produce('e2e-scores', { kind: 'other', roomId: ROOMS.general, n: 1 });
    await produce('e2e-scores', { kind: 'score', roomId: ROOMS.general, n: 2 });
    for (const s of [alice, bob]) {
      const ev = await waitForEvent(s, 'scoreChanged', (d) => d.data.n === 2, undefined, { after: mark });
      assert.deepEqual(ev, { roomId: ROOMS.general, data: { kind: 'score', roomId: ROOMS.general, n: 2 } });
    }
    // One partition, in order: the filtered record came first and was not emitted.
    assert.deepEqual(
      eventsNamed(alice, 'scoreChanged', (d) => d.data.n === 1),
      [],
    );
  });

  test('room update gives hub:roomUpdated and a system message', async () => {
    const { alice, bob } = await setup();
    const record = { id: ROOMS.general, name: 'general (renamed)', chatEnabled: true };
    await produce(topic('chatRoom', 'updated'), { old_chatRoom: { ...record, name: 'general' }, chatRoom: record });
    for (const s of [alice, bob]) {
      const ev = await waitForEvent(s, 'hub:roomUpdated', (d) => d.record?.name === record.name);
      assert.equal(ev.roomId, ROOMS.general);
      assert.deepEqual(ev.record, record);
      assert.equal(ev.old.name, 'general');
      const sys = await waitForEvent(
        s,
        'hub:messageArrived',
        (d) => d.message.messageType === 'system' && d.message.content.systemAction === 'roomUpdated',
      );
      assert.equal(sys.roomId, ROOMS.general);
    }
  });

  test('membership created gives hub:memberJoined', async () => {
    const { alice } = await setup();
    const record = { id: 'm-new', roomId: ROOMS.general, userId: USERS.carol.userId, status: 'active' };
    await produce(topic('chatMember', 'created'), record);
    const ev = await waitForEvent(alice, 'hub:memberJoined', (d) => d.userId === USERS.carol.userId);
    assert.deepEqual(ev, { roomId: ROOMS.general, userId: USERS.carol.userId, record });
  });

  test('the hub publishes its message data events', async () => {
    const { alice } = await setup();
    const ack = await emitWithAck(alice, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: 'to kafka' } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    let found;
    await until(
      async () => {
        found = (await records(topic('ChatMessage', 'created'))).find((r) => r.value.id === ack.message.id);
        return found;
      },
      { what: 'the message event on the created topic' },
    );
    // Keyed by room: a room's events share a partition, in seq order.
    assert.equal(found.key, `${HUB}/${ROOMS.general}`);
    assert.equal(found.headers.hub, HUB);
    assert.equal(found.headers.seq, String(ack.message.seq));
    assert.equal(found.headers.op, 'created');
    assert.match(found.headers.eventId, /^[0-9a-f-]{36}$/);
    assert.equal(found.value.id, ack.message.id);
    assert.equal(found.value.senderId, USERS.alice.userId);
    assert.deepEqual(found.value.content, { body: 'to kafka' });
    assert.equal(found.value.isActive, true);
  });

  test('room soft delete closes the room: hub:roomClosed and the members leave', async () => {
    const { alice, bob } = await setup();
    await produce(topic('chatRoom', 'deleted'), { id: ROOMS.general, name: 'general', isActive: false });
    for (const s of [alice, bob]) {
      const ev = await waitForEvent(s, 'hub:roomClosed', (d) => d.roomId === ROOMS.general);
      assert.equal(ev.reason, 'deleted');
    }
    const ack = await emitWithAck(alice, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: 'x' } });
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, 'NOT_JOINED');
  });
});

// Two nodes share rooms through Redis; only node A consumes Kafka. What A
// consumes must reach members connected through B: room events, and a room
// closed by a data event.
/**
 * Starts two nodes of the bridged hub with env: A consumes in its own
 * consumer group (group-<pid>), B does not. Resolves with { a, b } once A
 * consumes.
 */
async function twoNodes(kafka, group, env) {
  const cfg = path.join(await tempDir(`hubd-${group}-`), 'hubd.yaml');
  await writeFile(
    cfg,
    ['kafka:', `  brokers: ["${kafka.brokers}"]`, `  service: ${SERVICE}`, `  topicPattern: "${TOPIC_PATTERN}"`, `  group: ${group}-${process.pid}`, ''].join('\n'),
  );
  const hubs = path.join(FIXTURES, 'bridge', 'hubs');
  const a = await startDaemon({ hubs, args: ['--config', cfg], env });
  const b = await startDaemon({ hubs, env });
  await a.waitForLog((l) => l.msg === 'consuming' && Array.isArray(l.topics), { what: 'the bridge "consuming" log line', timeoutMs: 5_000 });
  return { a, b };
}

describe('kafka bridge across two nodes', { skip: process.env.HUBD_TEST_REDIS_ADDR ? false : 'HUBD_TEST_REDIS_ADDR is needed (scripts/test.sh starts Redis)' }, () => {
  let a;
  let b;
  let prefix;

  after(async () => {
    await a?.close();
    await b?.close();
    if (prefix) deleteKeys(prefix);
  });

  test('records consumed on one node reach the members of the other; a deleted room closes there too', async () => {
    const { kafka } = await setup();
    prefix = uniquePrefix();
    const redisEnv = { HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR, HUBD_REDIS__PREFIX: prefix };
    ({ a, b } = await twoNodes(kafka, 'e2e-bridge2', redisEnv));
    const room = ROOMS.random;
    const onB = await connect(b.url, NSP, { token: tokenFor('bob') });
    const ack = await emitWithAck(onB, 'hub:join', { roomId: room });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    // A kafkaEvents record consumed by A reaches bob on B.
    let n = 0;
    await until(
      async () => {
        await produce('e2e-scores', { kind: 'score', roomId: room, twoNodes: ++n });
        return eventsNamed(onB, 'scoreChanged').length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'a record consumed by node A reaching node B' },
    );
    await produce(topic('chatRoom', 'deleted'), { id: room, name: 'random', isActive: false });
    const ev = await waitForEvent(onB, 'hub:roomClosed', (d) => d.roomId === room);
    assert.equal(ev.reason, 'deleted');
    const after = await emitWithAck(onB, 'hub:send', { roomId: room, messageType: 'text', content: { body: 'x' } });
    assert.equal(after.ok, false);
    assert.equal(after.error.code, 'NOT_JOINED', 'node B removed bob from the closed room');
    assert.equal(eventsNamed(onB, 'hub:roomClosed').length, 1, 'closed once');
  });
});

const pgAndRedis =
  process.env.HUBD_TEST_REDIS_ADDR && process.env.HUBD_TEST_DATABASE_URL
    ? false
    : 'HUBD_TEST_REDIS_ADDR and HUBD_TEST_DATABASE_URL are needed (scripts/test.sh starts Redis and PostgreSQL)';

describe('a membership removed through Kafka, two nodes on one Redis and PostgreSQL records', { skip: pgAndRedis }, () => {
  let a;
  let b;
  let prefix;
  let schema;

  after(async () => {
    await a?.close();
    await b?.close();
    if (prefix) deleteKeys(prefix);
    if (schema) psql(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE;`);
  });

  test('the cached grant on the other node stops working at once', async () => {
    const { kafka } = await setup();
    await produce(topic('chatMember', 'updated'), { warmup: true });
    schema = uniqueSchema('e2e_brgm');
    psql(await recordsSQL(path.join(FIXTURES, 'records'), schema));
    prefix = uniquePrefix();
    const nodeEnv = {
      HUBD_REDIS__ADDR: process.env.HUBD_TEST_REDIS_ADDR,
      HUBD_REDIS__PREFIX: prefix,
      HUBD_RECORDSOURCE__KIND: 'postgres',
      HUBD_RECORDSOURCE__SCHEMA: schema,
      HUBD_POSTGRES__DSN: process.env.HUBD_TEST_DATABASE_URL,
    };
    ({ a, b } = await twoNodes(kafka, 'e2e-bridge3', nodeEnv));

    // bob joins on B: the grant is in the hub's auth cache (authCacheTTL 300 s).
    const room = ROOMS.random;
    const token = tokenFor('bob');
    const onB = await connect(b.url, NSP, { token });
    const ack = await emitWithAck(onB, 'hub:join', { roomId: room });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const restB = new RestClient(b, HUB);
    assert.equal((await restB.get(`/rooms/${room}/messages`, { token })).status, 200);
    let n = 0;
    await until(
      async () => {
        await produce('e2e-scores', { kind: 'score', roomId: room, membership: ++n });
        return eventsNamed(onB, 'scoreChanged').length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'node A consuming, node B relaying' },
    );

    // The record source loses the membership: the cached grant still admits
    // (this is what the removal must end).
    const member = { id: '3e3b0000-0006-4000-8000-000000000000', roomId: room, userId: USERS.bob.userId, status: 'inactive' };
    psql(`UPDATE ${ident(schema)}."chatMember" SET status = ${literal('inactive')} WHERE id = ${literal(member.id)};`);
    assert.equal((await restB.get(`/rooms/${room}/messages`, { token })).status, 200, 'the cached grant admits before the removal');

    // Node A consumes the removal: B removes bob's socket, and B's grant
    // no longer admits, on the first try.
    await produce(topic('chatMember', 'updated'), member);
    await waitForEvent(onB, 'hub:memberLeft', (d) => d.roomId === room && d.userId === USERS.bob.userId);
    const rest = await restB.get(`/rooms/${room}/messages`, { token });
    assert.equal(rest.status, 403, JSON.stringify(rest.body));
    assert.equal(rest.body.error.code, 'FORBIDDEN');
    const rejoin = await emitWithAck(onB, 'hub:join', { roomId: room });
    assert.equal(rejoin.ok, false, JSON.stringify(rejoin));
    assert.equal(rejoin.error.code, 'FORBIDDEN');
    await restB.validateExchanges();
  });
});

/** A TCP port nothing listens on now. */
async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Stops a kafka tool and waits for it to exit. */
async function stopKafka(kafka) {
  const exited = new Promise((resolve) => kafka.child.once('exit', resolve));
  kafka.child.stdin.end();
  await exited;
}

/** The value of a metric without labels in a /metrics text. */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** Joins alice to general and bob to random on daemon: [[socket, roomId]]. */
async function joinedAt(daemon) {
  const out = [];
  for (const [user, roomId] of [['alice', ROOMS.general], ['bob', ROOMS.random]]) {
    const s = await connect(daemon.url, NSP, { token: tokenFor(user) });
    const ack = await emitWithAck(s, 'hub:join', { roomId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    out.push([s, roomId]);
  }
  return out;
}

/** Sends n messages round robin over sockets; resolves with the acknowledged messages. */
async function send(sockets, n) {
  const acks = [];
  for (let i = 0; i < n; i++) {
    const [s, roomId] = sockets[i % sockets.length];
    const ack = await emitWithAck(s, 'hub:send', { roomId, messageType: 'text', content: { body: `m${i}` } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    acks.push(ack.message);
  }
  return acks;
}

/**
 * Waits until kafka's created topic holds an event for each of acks and
 * asserts exactly those, once each, every room's in seq order.
 */
async function expectPublished(kafka, acks) {
  const created = topic('ChatMessage', 'created');
  let recs = [];
  await until(
    async () => {
      recs = await records(created, kafka);
      return new Set(recs.map((r) => r.headers.eventId)).size >= acks.length;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `${acks.length} created events` },
  );
  assert.equal(recs.length, acks.length, 'each event published once');
  assert.deepEqual(new Set(recs.map((r) => r.value.id)), new Set(acks.map((m) => m.id)), 'every acknowledged message has its created event');
  const last = {};
  for (const r of recs) {
    assert.equal(r.key, `${HUB}/${r.value.roomId}`);
    assert.equal(r.headers.seq, String(r.value.seq));
    if (last[r.key] !== undefined) assert.equal(r.value.seq, last[r.key] + 1, `room ${r.key} in seq order`);
    last[r.key] = r.value.seq;
  }
}

/** Waits until daemon's outbox is empty and its bridge up. */
async function waitPublishedAll(daemon) {
  await until(
    async () => {
      const m = await daemon.metrics();
      return metric(m, 'hubd_bridge_outbox_depth') === 0 && metric(m, 'hubd_bridge_up') === 1;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: 'outbox empty and bridge up' },
  );
}

/** A bridge config file for a broker on port with shutdownTimeout. */
async function bridgeConfig(port, shutdownTimeout, group) {
  const cfg = path.join(await tempDir('hubd-e2e-bridgecfg-'), 'hubd.yaml');
  await writeFile(
    cfg,
    [
      `shutdownTimeout: ${shutdownTimeout}`,
      'kafka:',
      `  brokers: ["127.0.0.1:${port}"]`,
      `  service: ${SERVICE}`,
      `  topicPattern: "${TOPIC_PATTERN}"`,
      `  group: ${group}-${process.pid}`,
      '',
    ].join('\n'),
  );
  return cfg;
}

// The outbox: messages acknowledged while the broker cannot be reached are
// published once it can, across a kill -9 of hubd, a graceful shutdown with
// the broker gone, and a broker that comes back empty at the same address.
describe('kafka bridge outbox', () => {
  let d;
  let kafka;

  after(async () => {
    await d?.close();
    if (kafka && kafka.child.exitCode === null) await stopKafka(kafka);
  });

  test('acknowledged messages are published exactly once, in room order, after kill -9 and after a broker that lost its data', async (t) => {
    const port = await freePort();
    const cfg = await bridgeConfig(port, '3s', 'e2e-outbox');
    d = await startDaemon({ hubs: path.join(FIXTURES, 'bridge', 'hubs'), args: ['--config', cfg] });
    // Nothing listens on the broker's port: 50 messages are acknowledged,
    // none can be published; then hubd is killed without a chance to flush.
    const first = await send(await joinedAt(d), 50);
    d.child.kill('SIGKILL');
    await d.exited;
    disconnectAll();

    kafka = await startKafka(['-port', String(port)]);
    await d.start();
    await expectPublished(kafka, first);
    await waitPublishedAll(d);

    // The broker goes away; a graceful shutdown does not wait for it past
    // shutdownTimeout (3 s) and keeps the 20 new events.
    await stopKafka(kafka);
    const second = await send(await joinedAt(d), 20);
    const t0 = Date.now();
    await d.stop();
    t.diagnostic(`shutdown with the broker gone: ${Date.now() - t0} ms`);
    assert.ok(Date.now() - t0 < 8_000, `shutdown took ${Date.now() - t0} ms`);
    disconnectAll();

    // An empty broker at the same address: exactly the 20 events arrive.
    kafka = await startKafka(['-port', String(port)]);
    await d.start();
    await expectPublished(kafka, second);
  });
});

// A hung broker must not hold up a graceful shutdown past shutdownTimeout;
// what it never acknowledged is published once, in room order, by the next
// start against a working broker at the same address. Hung two ways: the
// kafka tool frozen with SIGSTOP while the daemon is connected (connections
// stay open, requests are never answered), and a listener that accepts
// connections and never answers from the daemon's start on.
describe('kafka bridge with a hung broker', () => {
  const SHUTDOWN_MS = 3_000;
  const MARGIN_MS = 3_000; // process exit and a loaded test machine
  const hubs = path.join(FIXTURES, 'bridge', 'hubs');
  let d;
  let kafka;
  let silent;

  after(async () => {
    await d?.close();
    if (kafka && kafka.child.exitCode === null && kafka.child.signalCode === null) kafka.child.kill('SIGKILL');
    silent?.close();
  });

  /** Waits for unpublished events, sends SIGTERM and asserts the time bound. */
  async function stopWithin(t, what) {
    await until(async () => metric(await d.metrics(), 'hubd_bridge_outbox_depth') > 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'events waiting in the outbox',
    });
    const t0 = Date.now();
    const exit = await d.stop({ timeoutMs: 60_000 });
    const took = Date.now() - t0;
    t.diagnostic(`shutdown with ${what}: ${took} ms (shutdownTimeout ${SHUTDOWN_MS} ms)`);
    assert.ok(took < SHUTDOWN_MS + MARGIN_MS, `shutdown took ${took} ms, shutdownTimeout is ${SHUTDOWN_MS} ms`);
    assert.equal(exit.signal, null, `hubd exited by itself: ${JSON.stringify(exit)}`);
    disconnectAll();
  }

  test('frozen broker: SIGTERM returns within shutdownTimeout; every acknowledged message is published once after the restart', async (t) => {
    const port = await freePort();
    kafka = await startKafka(['-port', String(port)]);
    d = await startDaemon({ hubs, args: ['--config', await bridgeConfig(port, `${SHUTDOWN_MS}ms`, 'e2e-frozen')] });
    const sockets = await joinedAt(d);
    await expectPublished(kafka, await send(sockets, 10));
    await waitPublishedAll(d);

    const frozen = kafka;
    frozen.child.kill('SIGSTOP');
    const acked = await send(sockets, 40);
    await stopWithin(t, 'a frozen broker');

    // The frozen broker never answers again (its records are lost with it).
    const gone = new Promise((resolve) => frozen.child.once('exit', resolve));
    frozen.child.kill('SIGKILL');
    await gone;
    kafka = await startKafka(['-port', String(port)]);
    await d.start();
    await expectPublished(kafka, acked);
    await waitPublishedAll(d);
    await d.close();
    await stopKafka(kafka);
  });

  test('silent listener: SIGTERM returns within shutdownTimeout; every acknowledged message is published once after the restart', async (t) => {
    const held = new Set();
    silent = createServer((sock) => {
      held.add(sock); // read and never answered
      sock.on('close', () => held.delete(sock));
    });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address();
    d = await startDaemon({ hubs, args: ['--config', await bridgeConfig(port, `${SHUTDOWN_MS}ms`, 'e2e-silent')] });
    const acked = await send(await joinedAt(d), 40);
    await until(() => held.size > 0, { timeoutMs: 10_000, intervalMs: 50, what: 'the daemon connected to the silent listener' });
    await stopWithin(t, 'a silent listener');

    for (const sock of held) sock.destroy();
    await new Promise((resolve) => silent.close(resolve));
    silent = undefined;
    kafka = await startKafka(['-port', String(port)]);
    await d.start();
    await expectPublished(kafka, acked);
    await waitPublishedAll(d);
  });
});
