// SIGHUP reloads the hubs dir: a new hub is served; a broken dir keeps
// the old hubs.

import assert from 'node:assert/strict';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  connect,
  connectError,
  copyFixture,
  disconnectAll,
  emitWithAck,
  FIXTURES,
  startDaemon,
  waitForEvent,
} from './lib/harness.mjs';
import { NSP, ROOMS, tokenFor } from './lib/fixtures.mjs';

let hubd;
let hubsDir;

before(async () => {
  hubsDir = await copyFixture('hubs');
  hubd = await startDaemon({ hubs: hubsDir });
});

after(async () => {
  disconnectAll();
  await hubd?.close();
  if (hubsDir) await rm(hubsDir, { recursive: true, force: true });
});

async function roundTrip(nsp, user = 'alice') {
  const s = await connect(hubd.url, nsp, { transport: 'websocket', token: tokenFor(user) });
  const join = await emitWithAck(s, 'hub:join', { roomId: ROOMS.general });
  assert.equal(join.ok, true, `${nsp}: ${JSON.stringify(join)}`);
  const ack = await emitWithAck(s, 'hub:send', { roomId: ROOMS.general, messageType: 'text', content: { body: nsp } });
  assert.equal(ack.ok, true, `${nsp}: ${JSON.stringify(ack)}`);
  await waitForEvent(s, 'hub:messageArrived', (d) => d.message?.id === ack.message.id);
  return s;
}

test('SIGHUP picks up a new hub; a broken dir keeps the old hubs', async () => {
  const err = await connectError(hubd.url, '/hub/arcade', { token: tokenFor('alice') });
  assert.ok(err instanceof Error, 'arcade is unknown before the reload');

  // A client connected before the reload stays usable through it.
  const early = await roundTrip(NSP.chat);

  await copyFile(path.join(FIXTURES, 'extra', 'arcade.yaml'), path.join(hubsDir, 'arcade.yaml'));
  const ok = await hubd.reload();
  assert.equal(ok.msg, 'reload complete', JSON.stringify(ok));
  (await roundTrip('/hub/arcade')).disconnect();
  (await roundTrip(NSP.chat)).disconnect();

  await copyFile(path.join(FIXTURES, 'extra', 'broken.yaml'), path.join(hubsDir, 'broken.yaml'));
  const failed = await hubd.reload();
  assert.equal(failed.msg, 'reload failed', JSON.stringify(failed));
  assert.match(JSON.stringify(failed), /broken\.yaml/, 'the failure names the file');
  assert.match(JSON.stringify(failed), /colour/, 'the failure names the field');

  for (const nsp of [NSP.chat, NSP.lobby, '/hub/arcade']) (await roundTrip(nsp)).disconnect();
  const stillBad = await connectError(hubd.url, '/hub/broken', { token: tokenFor('alice') });
  assert.ok(stillBad instanceof Error);

  const again = await emitWithAck(early, 'hub:send', {
    roomId: ROOMS.general,
    messageType: 'text',
    content: { body: 'still connected' },
  });
  assert.equal(again.ok, true, JSON.stringify(again));

  // Fixing the dir makes the next reload succeed again.
  await rm(path.join(hubsDir, 'broken.yaml'));
  await writeFile(path.join(hubsDir, 'notes.txt'), 'not a spec file, ignored\n');
  const fixed = await hubd.reload();
  assert.equal(fixed.msg, 'reload complete', JSON.stringify(fixed));
  (await roundTrip('/hub/arcade')).disconnect();
});

test('removing a hub file and SIGHUP stops serving that hub', async () => {
  await rm(path.join(hubsDir, 'arcade.yaml'), { force: true });
  const r = await hubd.reload();
  assert.equal(r.msg, 'reload complete', JSON.stringify(r));
  const err = await connectError(hubd.url, '/hub/arcade', { token: tokenFor('alice') });
  assert.ok(err instanceof Error);
  (await roundTrip(NSP.chat)).disconnect();
});
