// PostgreSQL behind a running daemon: message types added and removed
// through SIGHUP migrate the hub's table (or are refused), and a record
// source that cannot be reached makes joins UNAVAILABLE, never allowed.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { disconnectAll, emitWithAck, psql, tempDir, waitForEvent } from './lib/harness.mjs';
import { openHubSpec } from './lib/cluster.mjs';
import { connectAs, FROOMS, joinAs, refusedWith, startFeatures } from './lib/features.mjs';

const skip = process.env.HUBD_TEST_DATABASE_URL ? false : 'HUBD_TEST_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)';

const IMAGE = { mediaUrl: 'https://cdn.example.test/img/a.png', caption: 'added by a reload' };

function evolveSpec(types) {
  return openHubSpec('evolve', {
    description: 'Message types change while it runs.',
    dataObjectName: 'evolveMessage',
    messageTypes: types,
    historyLimit: 20,
  });
}

describe('PostgreSQL schema migration through SIGHUP', { skip }, () => {
  let hubs;
  let d;

  before(async () => {
    hubs = await tempDir('hubd-e2e-evolve-hubs-');
    await writeFile(path.join(hubs, 'evolve.yaml'), evolveSpec(['text']));
    d = await startFeatures({ hubs, store: 'postgres' });
  });

  after(async () => {
    disconnectAll();
    await d?.close();
    if (hubs) await rm(hubs, { recursive: true, force: true });
  });

  const storedTypes = () =>
    psql(`SELECT "messageType"::text FROM "${d.pgSchema}"."evolveMessage" ORDER BY seq;`).trim().split('\n').filter(Boolean);

  test('a type added to the spec can be sent and is stored; removing it while stored fails the reload', async () => {
    const room = FROOMS.general;
    const { socket } = await joinAs(d, 'evolve', 'alice', room);
    await refusedWith(socket, 'hub:send', { roomId: room, messageType: 'image', content: IMAGE }, 'TYPE_NOT_ALLOWED');

    await writeFile(path.join(hubs, 'evolve.yaml'), evolveSpec(['text', 'image']));
    const added = await d.reload();
    assert.equal(added.msg, 'reload complete', JSON.stringify(added));

    const { socket: s2 } = await joinAs(d, 'evolve', 'alice', room);
    const ack = await emitWithAck(s2, 'hub:send', { roomId: room, messageType: 'image', content: IMAGE });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.deepEqual(storedTypes(), ['image'], 'the image row is in the hub table');

    await writeFile(path.join(hubs, 'evolve.yaml'), evolveSpec(['text']));
    const removed = await d.reload();
    assert.equal(removed.msg, 'reload failed', JSON.stringify(removed));
    assert.match(JSON.stringify(removed), /image/, 'the failure names the type still in use');

    // The old spec (text and image) is still served.
    const { socket: s3, ack: joined } = await joinAs(d, 'evolve', 'bob', room);
    assert.equal(joined.ok, true);
    await waitForEvent(s3, 'hub:history', (h) => h.roomId === room && h.messages.some((m) => m.messageType === 'image'));
    const again = await emitWithAck(s3, 'hub:send', { roomId: room, messageType: 'image', content: IMAGE });
    assert.equal(again.ok, true, `image refused after the failed reload: ${JSON.stringify(again)}`);
    assert.deepEqual(storedTypes(), ['image', 'image']);
  });
});

/** A loopback port nothing listens on. */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

describe('record source down', () => {
  let d;

  before(async () => {
    const port = await closedPort();
    d = await startFeatures({
      store: 'embedded',
      env: {
        HUBD_RECORDSOURCE__KIND: 'postgres',
        HUBD_POSTGRES__DSN: `postgres://nobody:nothing@127.0.0.1:${port}/none?sslmode=disable&connect_timeout=2`,
        HUBD_RECORDSOURCE__QUERYTIMEOUT: '2s',
        HUBD_STORE: 'embedded',
      },
    });
  });

  after(async () => {
    disconnectAll();
    await d?.close();
  });

  test('joins fail with UNAVAILABLE, for every layer that needs a record', async () => {
    for (const [hub, user, claims] of [
      ['gate', 'alice', {}],
      ['gate', 'admin', {}],
      ['ops', 'bob', {}],
    ]) {
      const s = await connectAs(d, hub, user, { claims });
      const err = await refusedWith(s, 'hub:join', { roomId: FROOMS.general }, 'UNAVAILABLE');
      assert.equal(err.code, 'UNAVAILABLE', `${hub} ${user}`);
      const send = await emitWithAck(s, 'hub:send', { roomId: FROOMS.general, messageType: 'text', content: { body: 'x' } });
      assert.equal(send.error?.code, 'NOT_JOINED', 'the refused join joined nothing');
      s.disconnect();
    }
  });
});
