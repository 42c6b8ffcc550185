// The per-hub AsyncAPI 3.0 document (GET /{hub}/asyncapi.json), generated
// from the protocol table and the hub's spec, validated with the official
// @asyncapi/parser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Parser } from '@asyncapi/parser';

import { copyFixture, startDaemon } from './lib/harness.mjs';

let hubd;
const parser = new Parser();

before(async () => {
  const dir = await copyFixture('rules');
  hubd = await startDaemon({ hubs: path.join(dir, 'hubs'), records: path.join(dir, 'records'), lib: path.join(dir, 'lib') });
});

after(async () => {
  await hubd?.close();
});

async function documentOf(hub) {
  const res = await fetch(`${hubd.url}/${hub}/asyncapi.json`);
  assert.equal(res.status, 200);
  const raw = await res.text();
  const { document, diagnostics } = await parser.parse(raw);
  const errors = diagnostics.filter((d) => d.severity === 0);
  assert.deepEqual(errors.map((d) => `${d.path.join('.')}: ${d.message}`), [], 'no validation errors');
  assert.ok(document, 'parsed');
  return { document, json: JSON.parse(raw) };
}

for (const hub of ['stage', 'floor', 'vetted', 'cards']) {
  test(`${hub}: the AsyncAPI document is valid AsyncAPI 3.0`, async () => {
    const { document, json } = await documentOf(hub);
    assert.equal(document.version(), '3.0.0');
    assert.equal(json.channels.hub.address, `/hub/${hub}`);
    const ops = document.operations().all().map((op) => `${op.action()} ${op.messages().all()[0].name()}`);
    for (const want of ['send hub:join', 'send hub:send', 'receive hub:messageArrived', 'receive hub:error']) {
      assert.ok(ops.includes(want), `${want} in ${ops}`);
    }
    assert.ok(json.components.schemas.ErrorCode.enum.includes('INVALID_MESSAGE'));
  });
}

test('floor: custom events by direction, toggles and the spec message types', async () => {
  const { document, json } = await documentOf('floor');
  const ops = document.operations().all().map((op) => `${op.action()} ${op.messages().all()[0].name()}`);
  assert.ok(ops.includes('send hub:event.pin'), 'a clientToRoom event is sent with hub:event');
  assert.ok(ops.includes('receive pin'), 'and received under its name');
  assert.ok(ops.includes('receive typing'), 'the custom typing event (the indicator is off)');
  assert.ok(!ops.includes('receive hub:typing'), 'no typing indicator');
  assert.ok(ops.includes('send hub:react'), 'reactions are on');
  assert.ok(!ops.includes('send hub:requestState'), 'no state script');
  assert.deepEqual(json.components.schemas.MessageType.enum, ['text', 'reading', 'pin']);
  const send = json.components.messages['send.hub_send'];
  assert.equal(send['x-hubd'].permission, 'canSend');
  assert.equal(send['x-hubd'].rateLimit, 'messageRateLimit');
});
