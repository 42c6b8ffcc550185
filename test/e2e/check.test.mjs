// `hubd check` on a good and on a broken hubs dir.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { FIXTURES, runHubd } from './lib/harness.mjs';

test('check on the fixture hubs exits 0 and names every hub', async () => {
  const r = await runHubd(['check', '--hubs', path.join(FIXTURES, 'hubs'), '--lib', path.join(FIXTURES, 'lib')]);
  assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  for (const hub of ['chat', 'lobby']) {
    assert.match(r.stdout, new RegExp(`\\b${hub}\\b`), `stdout lists ${hub}:\n${r.stdout}`);
  }
});

// Every error planted in fixtures/broken/hubs, as file and field path.
const PLANTED = [
  { file: 'b_duplicate.yaml', path: 'hubBasics.name' },
  { file: 'c_decode.yaml', path: 'hubBasics.colour' },
  { file: 'c_decode.yaml', path: 'guardrails.maxUsersPerRoom' },
  { file: 'd_semantic.yaml', path: 'roomSettings.roomEligibility' },
  { file: 'd_semantic.yaml', path: 'roomSettings.authSources[0].hubRole' },
  { file: 'd_semantic.yaml', path: 'hubRoles[1].name' },
  { file: 'd_semantic.yaml', path: 'messageSettings.messageTypes[1]' },
  { file: 'd_semantic.yaml', path: 'messageSettings.customMessageTypes[0].fields[0].fieldType' },
];

test('check on the broken hubs dir exits 1 and reports every planted error', async () => {
  const dir = path.join(FIXTURES, 'broken', 'hubs');
  const r = await runHubd(['check', '--hubs', dir, '--lib', path.join(FIXTURES, 'lib')]);
  assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n');
  for (const p of PLANTED) {
    // FILE: FIELD.PATH: message
    const hit = lines.find((l) => {
      const at = l.indexOf(`${p.file}: ${p.path}: `);
      return at >= 0 && l.length > at + p.file.length + p.path.length + 4;
    });
    assert.ok(hit, `no "${p.file}: ${p.path}: message" line in stderr:\n${r.stderr}`);
  }
  // a_good.yaml has no error of its own
  assert.ok(!lines.some((l) => l.includes('a_good.yaml:')), `a_good.yaml reported:\n${r.stderr}`);
});

test('check with a library that does not compile exits 1 naming the module', async () => {
  const r = await runHubd(['check', '--hubs', path.join(FIXTURES, 'hubs'), '--lib', path.join(FIXTURES, 'broken', 'lib')]);
  assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, /access\.js/);
});

test('check on a missing dir fails', async () => {
  const r = await runHubd(['check', '--hubs', path.join(FIXTURES, 'no-such-dir')]);
  assert.notEqual(r.code, 0);
  assert.notEqual(r.stderr.trim(), '');
});
