// `hubd check` on a good and on a broken hubs dir, and check = serve: the
// same inputs pass or fail both, with every problem reported at once.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { FIXTURES, JWT_SECRET, runHubd, tempDir } from './lib/harness.mjs';

/** The flags of the fixture daemon (as the harness starts it). */
const FIXTURE_FLAGS = [
  '--hubs', path.join(FIXTURES, 'hubs'),
  '--records', path.join(FIXTURES, 'records'),
  '--lib', path.join(FIXTURES, 'lib'),
  '--jwt-secret', JWT_SECRET,
];

test('check on the fixture hubs exits 0 and names every hub', async () => {
  const r = await runHubd(['check', ...FIXTURE_FLAGS]);
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
  // spec errors and script errors of one file, in the same run
  { file: 'e_decode_scripts.yaml', path: 'hubBasics.colour' },
  { file: 'e_decode_scripts.yaml', path: 'roomSettings.checkScript', says: 'does not compile' },
  { file: 'e_decode_scripts.yaml', path: 'roomSettings.authScripts[0].script', says: 'unknown name "usr"' },
  { file: 'e_decode_scripts.yaml', path: 'roomSettings.authScripts[0].script', says: 'lib.nowhere.allow does not exist' },
  { file: 'f_semantic_scripts.yaml', path: 'roomSettings.authScripts[0].hubRole' },
  { file: 'f_semantic_scripts.yaml', path: 'roomSettings.roomEligibility', says: 'unknown name "stage"' },
];

test('check on the broken hubs dir exits 1 and reports every planted error', async () => {
  const dir = path.join(FIXTURES, 'broken', 'hubs');
  const r = await runHubd(['check', ...FIXTURE_FLAGS, '--hubs', dir]);
  assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n');
  for (const p of PLANTED) {
    // FILE: FIELD.PATH: message
    const hit = lines.find((l) => {
      const at = l.indexOf(`${p.file}: ${p.path}: `);
      return at >= 0 && l.length > at + p.file.length + p.path.length + 4 && (!p.says || l.includes(p.says));
    });
    assert.ok(hit, `no "${p.file}: ${p.path}: ${p.says ?? 'message'}" line in stderr:\n${r.stderr}`);
  }
  // a_good.yaml has no error of its own
  assert.ok(!lines.some((l) => l.includes('a_good.yaml:')), `a_good.yaml reported:\n${r.stderr}`);
});

test('check with a library that does not compile exits 1 naming the module', async () => {
  const r = await runHubd(['check', ...FIXTURE_FLAGS, '--lib', path.join(FIXTURES, 'broken', 'lib')]);
  assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, /access\.js/);
});

test('check on a missing dir fails', async () => {
  const r = await runHubd(['check', '--hubs', path.join(FIXTURES, 'no-such-dir')]);
  assert.notEqual(r.code, 0);
  assert.notEqual(r.stderr.trim(), '');
});

test('check and serve refuse the same config, reporting every problem at once with what fixes it', async () => {
  const dir = await tempDir();
  const cfg = path.join(dir, 'hubd.yaml');
  await writeFile(
    cfg,
    ['stroe: postgres', 'socketio:', '  pingIntervall: 1s', 'auth:', '  session: {resolver: sessions}', ''].join('\n'),
  );
  await mkdir(path.join(dir, 'records'));
  await writeFile(path.join(dir, 'records', 'room.json'), '[{"id": "r1"'); // broken JSON
  const args = ['--config', cfg, '--hubs', path.join(FIXTURES, 'hubs'), '--records', path.join(dir, 'records'), '--jwt-secret', JWT_SECRET];
  const want = [
    `${cfg}: stroe: unknown key (did you mean store?)`,
    `${cfg}: socketio.pingIntervall: unknown key (did you mean socketio.pingInterval?)`,
    'auth.session.resolver: "sessions" is not claims, redis or introspection [set with HUBD_AUTH__SESSION__RESOLVER',
    'room.json',
  ];
  for (const cmd of ['check', 'serve']) {
    const r = await runHubd([cmd, ...args, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 1, `${cmd} stderr:\n${r.stderr}`);
    for (const w of want) assert.ok(r.stderr.includes(w), `${cmd}: no "${w}" in stderr:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`hubd ${cmd}: the configuration is not valid \\(\\d+ problem`));
  }
});

test('check outside the repository: no default library needed, nothing written, a missing hubs dir explained', async () => {
  const dir = await tempDir();
  await mkdir(path.join(dir, 'hubs'));
  await mkdir(path.join(dir, 'records'));
  await writeFile(
    path.join(dir, 'hubs', 'plain.yaml'),
    'hubBasics: {name: plain}\nroomSettings:\n  roomDataObject: room\n  authScripts: [{name: everyone, script: "true"}]\n',
  );
  const ok = await runHubd(['check', '--hubs', 'hubs', '--records', 'records', '--jwt-secret', 's'], { cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /1 hub\(s\) valid in hubs/);

  const none = await runHubd(['serve', '--jwt-secret', 's', '--listen', '127.0.0.1:0'], { cwd: dir });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /hubd has no hubs to serve: the directory configs\/hubs does not exist/);
  assert.match(none.stderr, /--hubs DIR/);
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual((await readdir(dir)).sort(), ['hubs', 'records'], 'a failed start writes nothing (no data/)');
});

test('check names a free name the hook lacks and a missing lib function, with file and field path, all at once', async () => {
  const dir = await tempDir('hubd-e2e-check-names-');
  await mkdir(path.join(dir, 'hubs'));
  await mkdir(path.join(dir, 'lib'));
  await mkdir(path.join(dir, 'records'));
  await writeFile(path.join(dir, 'lib', 'game.js'), 'exports.play = function () { return { accept: true }; };\n');
  await writeFile(
    path.join(dir, 'hubs', 'arena.yaml'),
    [
      'hubBasics: {name: arena}',
      'roomSettings:',
      '  roomDataObject: game',
      '  roomEligibility: catalogEvent.open == true',
      '  authScripts: [{name: all, script: "true"}]',
      'messageSettings:',
      '  messageTypes: [text]',
      '  customMessageTypes: [{name: move, fields: [{name: x, fieldType: Integer}]}]',
      'hubLogic:',
      '  messageHandlers:',
      '    - {messageType: move, script: "lib.game.ply(message, sesion)"}',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'hubs', 'closed.yaml'),
    'hubBasics: {name: closed}\nroomSettings: {roomDataObject: game}\nmessageSettings: {messageTypes: [text]}\n',
  );
  const flags = ['--hubs', path.join(dir, 'hubs'), '--lib', path.join(dir, 'lib'), '--records', path.join(dir, 'records'), '--jwt-secret', JWT_SECRET];
  const r = await runHubd(['check', ...flags]);
  assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  for (const want of [
    /arena\.yaml: roomSettings\.roomEligibility: unknown name "catalogEvent" \(this script's context has game, room\)/,
    /arena\.yaml: hubLogic\.messageHandlers\[0\]\.script: unknown name "sesion"/,
    /arena\.yaml: hubLogic\.messageHandlers\[0\]\.script: lib\.game\.ply does not exist in the service library/,
  ]) {
    assert.match(r.stderr, want);
  }

  await writeFile(path.join(dir, 'hubs', 'arena.yaml'), 'hubBasics: {name: arena}\nroomSettings: {roomDataObject: game, authScripts: [{name: all, script: "true"}]}\nmessageSettings: {messageTypes: [text]}\n');
  const ok = await runHubd(['check', ...flags]);
  assert.equal(ok.code, 0, `stdout:\n${ok.stdout}\nstderr:\n${ok.stderr}`);
  assert.match(ok.stdout, /^warning: .*closed\.yaml: roomSettings: nobody can join this hub \(no authSources, authScripts or absoluteRoles\)$/m);
  assert.doesNotMatch(ok.stdout, /warning: .*arena\.yaml/);
});
