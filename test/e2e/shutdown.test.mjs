// Graceful shutdown keeps clients: on SIGTERM /-/ready turns 503 for the
// drain (shutdownDrain), then the transports close without a namespace
// DISCONNECT, so socket.io-client v4 and python-socketio reconnect by
// themselves to the next daemon on the same address.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  connect,
  disconnectAll,
  emitWithAck,
  startDaemon,
  TIMEOUT_MS,
  until,
  waitForDisconnect,
  waitForEvent,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PYCLIENT = path.join(here, 'tools', 'pyclient', 'reconnect.py');
// The Debian python3 (python3-socketio), not a python3 of another install.
const PYTHON = process.env.HUBD_E2E_PYTHON || '/usr/bin/python3';

const cleanup = [];
after(async () => {
  disconnectAll();
  for (const fn of cleanup.reverse()) await fn();
});

/** A daemon with a 1 s drain, closed when the suite ends. */
async function drainingDaemon() {
  const hubd = await startDaemon({ env: { HUBD_SHUTDOWN_DRAIN: '1s' } });
  cleanup.push(() => hubd.close());
  return hubd;
}

/** Status of GET url, or 0 when nothing answers. */
async function status(url) {
  try {
    const res = await fetch(url);
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * Sends SIGTERM and checks the drain: /-/ready answers 503 on both
 * listeners while /-/healthy still answers 200 and stillConnected() holds.
 * Resolves with the exit once the process is gone.
 */
async function terminateWithDrain(hubd, stillConnected) {
  hubd.child.kill('SIGTERM');
  await until(async () => (await status(`${hubd.url}/-/ready`)) === 503, { what: '/-/ready 503' });
  assert.equal(await status(`${hubd.adminUrl}/-/ready`), 503);
  assert.equal(await status(`${hubd.url}/-/healthy`), 200);
  assert.ok(stillConnected(), 'clients stay connected during the drain');
  return hubd.exited;
}

/** Starts hubd again on the address it had. */
async function restartOnSameAddress(hubd) {
  const addr = hubd.addr;
  hubd.args = [...hubd.args, '--listen', addr];
  await hubd.start();
  assert.equal(hubd.addr, addr);
}

test('socket.io-client over websocket and polling reconnects by itself to the restarted daemon', async () => {
  const hubd = await drainingDaemon();
  const clients = [];
  for (const transport of ['websocket', 'polling']) {
    const s = await connect(hubd.url, NSP.chat, { transport, token: tokenFor('bob'), reconnect: true });
    cleanup.push(() => s.disconnect());
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    s.connects = 1;
    s.on('connect', () => s.connects++);
    clients.push(s);
  }

  const reasons = Promise.all(clients.map((s) => waitForDisconnect(s, 15_000)));
  const exit = await terminateWithDrain(hubd, () => clients.every((s) => s.connected));
  assert.deepEqual(exit, { code: 0, signal: null });
  // No namespace DISCONNECT: that would be "io server disconnect", after
  // which the client never reconnects. The WebSocket sees its close frame,
  // the polling client finds its session gone.
  assert.deepEqual(await reasons, ['transport close', 'transport error']);

  await restartOnSameAddress(hubd);
  await until(() => clients.every((s) => s.connected && s.connects === 2), {
    timeoutMs: TIMEOUT_MS,
    what: 'both clients reconnected',
  });
  for (const s of clients) {
    const ack = await emitWithAck(s, 'hub:join', { roomId: ROOMS.random });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  }
  const [ws, polling] = clients;
  const after = polling.received.length;
  const sent = await emitWithAck(ws, 'hub:send', {
    roomId: ROOMS.random,
    messageType: 'text',
    content: { body: 'back after the restart' },
  });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  await waitForEvent(polling, 'hub:messageArrived', (d) => d.message?.id === sent.message.id, TIMEOUT_MS, { after });
});

/** A python-socketio client (tools/pyclient/reconnect.py) and its event lines. */
function pythonClient(url, transport) {
  const child = spawn(PYTHON, [PYCLIENT, url, NSP.chat, tokenFor('bob'), ROOMS.random, transport], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const client = { child, events: [], stderr: '', waiters: new Set() };
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      client.events.push(JSON.parse(line));
      for (const w of client.waiters) w();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    client.stderr += chunk;
  });
  cleanup.push(async () => {
    if (child.exitCode === null) {
      child.stdin.end();
      await until(() => child.exitCode !== null || child.signalCode !== null, { what: 'python client exit' }).catch(() =>
        child.kill('SIGKILL'),
      );
    }
  });
  client.waitFor = (pred, what) =>
    until(() => client.events.find(pred), { timeoutMs: 15_000, what: `${what}; stderr: ${client.stderr}` });
  return client;
}

for (const transport of ['websocket', 'polling']) {
  test(`python-socketio over ${transport} reconnects by itself to the restarted daemon`, async () => {
    const hubd = await drainingDaemon();
    const py = pythonClient(hubd.url, transport);
    const joined = await py.waitFor((e) => e.event === 'join' && e.n === 1, 'first join');
    assert.equal(joined.ok, true, JSON.stringify(joined));

    const exit = await terminateWithDrain(hubd, () => !py.events.some((e) => e.event === 'disconnect'));
    assert.deepEqual(exit, { code: 0, signal: null });
    await py.waitFor((e) => e.event === 'disconnect', 'disconnect');

    await restartOnSameAddress(hubd);
    const rejoined = await py.waitFor((e) => e.event === 'join' && e.n === 2, 'join after the reconnection');
    assert.equal(rejoined.ok, true, JSON.stringify(rejoined));
  });
}
