// Starting the daemon from a config file or HUBD_* variables, their
// precedence, `hubd token`, and a graceful SIGTERM with clients connected.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';

import {
  connect,
  connectError,
  Daemon,
  disconnectAll,
  emitWithAck,
  engineHandshake,
  FIXTURES,
  JWT_SECRET,
  makeToken,
  runHubd,
  startDaemon,
  tempDir,
  waitForDisconnect,
  waitForEvent,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor, USERS } from './lib/fixtures.mjs';

const cleanup = [];

after(async () => {
  disconnectAll();
  for (const fn of cleanup.reverse()) await fn();
});

/** Starts a daemon with a raw argv/env and registers its cleanup. */
async function startRaw(argv, env = {}) {
  const d = new Daemon({ argv, env });
  cleanup.push(() => d.close());
  await d.start();
  return d;
}

async function dir() {
  const d = await tempDir();
  cleanup.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function joinGeneral(hubd, token) {
  const s = await connect(hubd.url, NSP.chat, { token });
  const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  s.disconnect();
}

test('serve --config FILE alone', async () => {
  const work = await dir();
  const cfg = path.join(work, 'hubd.yaml');
  await writeFile(
    cfg,
    [
      'listen: 127.0.0.1:0',
      `hubs: ${path.join(FIXTURES, 'hubs')}`,
      `records: ${path.join(FIXTURES, 'records')}`,
      `lib: ${path.join(FIXTURES, 'lib')}`,
      `data: ${path.join(work, 'data')}`,
      'log:',
      '  format: json',
      'auth:',
      `  jwtSecret: ${JWT_SECRET}`,
      'socketio:',
      '  maxPayload: 20000',
      '',
    ].join('\n'),
  );
  const hubd = await startRaw(['serve', '--config', cfg]);
  const open = await engineHandshake(hubd.url);
  assert.equal(open.maxPayload, 20000);
  await joinGeneral(hubd, tokenFor('alice'));
});

test('serve configured by HUBD_* variables alone', async () => {
  const work = await dir();
  const hubd = await startRaw(['serve'], {
    HUBD_LISTEN: '127.0.0.1:0',
    HUBD_HUBS: path.join(FIXTURES, 'hubs'),
    HUBD_RECORDS: path.join(FIXTURES, 'records'),
    HUBD_LIB: path.join(FIXTURES, 'lib'),
    HUBD_DATA: path.join(work, 'data'),
    HUBD_LOG_FORMAT: 'json',
    HUBD_JWT_SECRET: JWT_SECRET,
    HUBD_SOCKETIO__MAXPAYLOAD: '30000',
  });
  const open = await engineHandshake(hubd.url);
  assert.equal(open.maxPayload, 30000);
  await joinGeneral(hubd, tokenFor('alice'));
});

/** Writes a config file that the environment or flags then override. */
async function overriddenConfig(work) {
  const cfg = path.join(work, 'hubd.yaml');
  await writeFile(
    cfg,
    [
      'listen: 127.0.0.1:0',
      `hubs: ${path.join(FIXTURES, 'hubs')}`,
      `records: ${path.join(FIXTURES, 'records')}`,
      `lib: ${path.join(FIXTURES, 'lib')}`,
      `data: ${path.join(work, 'data')}`,
      'log:',
      '  format: json',
      'auth:',
      '  jwtSecret: from-file',
      'socketio:',
      '  maxPayload: 11111',
      '',
    ].join('\n'),
  );
  return cfg;
}

test(
  'HUBD_* variables win over the config file',
  async () => {
    const work = await dir();
    const cfg = await overriddenConfig(work);
    const hubd = await startRaw(['serve', '--config', cfg], {
      HUBD_JWT_SECRET: JWT_SECRET,
      HUBD_SOCKETIO__MAXPAYLOAD: '22222',
    });
    assert.equal((await engineHandshake(hubd.url)).maxPayload, 22222);
    await joinGeneral(hubd, tokenFor('alice'));
    const err = await connectError(hubd.url, NSP.chat, { token: makeToken(USERS.alice, { secret: 'from-file' }) });
    assert.equal(err.message, 'Invalid token');
  },
);

test('flags win over HUBD_* variables and the config file', async () => {
  const work = await dir();
  const cfg = await overriddenConfig(work);
  const hubd = await startRaw(['serve', '--config', cfg, '--jwt-secret', JWT_SECRET], { HUBD_JWT_SECRET: 'from-env' });
  await joinGeneral(hubd, tokenFor('alice'));
  for (const secret of ['from-env', 'from-file']) {
    const err = await connectError(hubd.url, NSP.chat, { token: makeToken(USERS.alice, { secret }) });
    assert.equal(err.message, 'Invalid token', `secret ${secret} must lose to the flag`);
  }
});

test('a token printed by `hubd token` is accepted, with its extra claims', async () => {
  const hubd = await startDaemon();
  cleanup.push(() => hubd.close());
  const r = await runHubd([
    'token',
    '--user', USERS.alice.userId,
    '--role', 'user',
    '--claim', 'team=blue',
    '--jwt-secret', JWT_SECRET,
    '--ttl', '10m',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.equal(claims.userId, USERS.alice.userId);
  assert.equal(claims.roleId, 'user');
  assert.equal(claims.team, 'blue');
  const ttl = claims.exp - Math.floor(Date.now() / 1000);
  assert.ok(ttl > 500 && ttl <= 600, `exp ${ttl}s from now`);
  await joinGeneral(hubd, token);

  const other = await runHubd(['token', '--user', 'u', '--role', 'r', '--jwt-secret', 'other-secret']);
  assert.equal(other.code, 0, other.stderr);
  const err = await connectError(hubd.url, NSP.chat, { token: other.stdout.trim() });
  assert.equal(err.message, 'Invalid token');
});

test('SIGTERM with clients connected: they are disconnected, exit 0, messages kept', async () => {
  const hubd = await startDaemon();
  cleanup.push(() => hubd.close());
  const sockets = [];
  for (const transport of ['websocket', 'polling', 'upgrade']) {
    const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('bob') });
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    sockets.push(s);
  }
  const sent = await emitWithAck(sockets[0], 'hub:send', {
    roomId: ROOMS.random,
    messageType: 'text',
    content: { body: 'last words' },
  });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  await Promise.all(sockets.map((s) => waitForEvent(s, 'hub:messageArrived', (d) => d.message?.id === sent.message.id)));

  const disconnected = sockets.map((s) => waitForDisconnect(s, 15_000));
  const exit = await hubd.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  const reasons = await Promise.all(disconnected);
  for (const r of reasons) assert.notEqual(r, 'io client disconnect');

  await hubd.start();
  const s = await connect(hubd.url, NSP.chat, { token: tokenFor('alice') });
  await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
  const h = await waitForEvent(s, 'hub:history', (d) => d.roomId === ROOMS.random);
  assert.equal(h.messages.at(-1)?.id, sent.message.id);
});

test(
  'SIGTERM does not wait for an idle polling session',
  async () => {
    const hubd = await startDaemon();
    cleanup.push(() => hubd.close());
    await engineHandshake(hubd.url, { keepOpen: true });
    const t0 = Date.now();
    const exit = await hubd.stop();
    const took = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(took < 5000, `shutdown took ${took}ms`);
  },
);
