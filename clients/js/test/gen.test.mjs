// The types `hubd gen ts` writes for the example hubs (configs/hubs)
// compile with tsc --strict together with @hubd/client, and make a wrong
// send a compile error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { runHubd } from '../../../test/e2e/lib/harness.mjs';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repo = path.resolve(pkg, '..', '..');
const tsc = path.join(pkg, 'node_modules', 'typescript', 'bin', 'tsc');

let dir;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hubd-gen-ts-'));
  const res = await runHubd(['gen', 'ts', '--hubs', path.join(repo, 'configs', 'hubs'), '--out', path.join(dir, 'gen')]);
  assert.equal(res.code, 0, res.stderr);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Writes the files (name -> source) into dir and compiles them with the
 * generated types in one tsc --strict run; resolves the diagnostics by
 * file name (empty when tsc passed).
 */
async function compile(files) {
  for (const [name, source] of Object.entries(files)) await writeFile(path.join(dir, name), source);
  const config = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2020',
      lib: ['ES2020', 'DOM'],
      module: 'ES2020',
      moduleResolution: 'bundler',
      types: [],
      paths: { '@hubd/client': [path.join(pkg, 'dist', 'esm', 'index.d.ts')] },
    },
    files: Object.keys(files),
  };
  await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  const byFile = {};
  for (const line of (r.stdout + r.stderr).split('\n')) {
    const m = /([^/\s]+\.ts)\((\d+),\d+\): (error .*)/.exec(line);
    if (m) (byFile[m[1]] ??= []).push({ line: Number(m[2]), text: m[3] });
  }
  if (r.status !== 0 && Object.keys(byFile).length === 0) throw new Error(`tsc failed without diagnostics: ${r.stdout}${r.stderr}`);
  return byFile;
}

const header = `import { HubClient, type Message } from '@hubd/client';
import type { ChatHub, TicTacToe } from './gen/index.js';
import { chatHub, ticTacToe } from './gen/index.js';
const chat = new HubClient<ChatHub>('http://127.0.0.1:8080', chatHub.hubName, { token: 't' });
const game = new HubClient<TicTacToe>('http://127.0.0.1:8080', ticTacToe.hubName, { token: 't' });
`;

const wrong = [
  ['an Enum value outside the union', `void chat.room('c').send('poll', { question: 'q', options: [], visibility: 'secret' });`],
  ['a number field given a string', `void game.room('g').send('move', { cell: 'four' });`],
  ['a required field missing', `void game.room('g').send('move', {});`],
  ['a field the type does not have', `void chat.room('c').send('text', { body: 'x', bogus: 1 });`],
  ['a message type the hub does not have', `void chat.room('c').send('bid', { amount: 5 });`],
  ['a custom event the hub does not have', `void game.room('g').emit('surrender', {});`],
  ['a role the hub does not have', `const r: TicTacToe['roles'] = 'referee'; void r;`],
];
const wrongFile = (what) => `wrong-${what.replace(/\W+/g, '-')}.ts`;

let diagnostics;
async function compiled() {
  if (diagnostics) return diagnostics;
  const files = (await readdir(path.join(dir, 'gen'))).sort();
  assert.deepEqual(files, ['chatHub.ts', 'index.ts', 'liveDashboard.ts', 'supportDesk.ts', 'ticTacToe.ts', 'webinar.ts']);
  const imports = files.filter((f) => f !== 'index.ts').map((f) => `import type * as ${f.slice(0, -3)}Types from './gen/${f.slice(0, -3)}.js';`);
  const sources = { 'usage.ts': header + imports.join('\n') + USAGE };
  for (const [what, line] of wrong) sources[wrongFile(what)] = header + line + '\n';
  diagnostics = await compile(sources);
  return diagnostics;
}

const USAGE = `
const room = chat.room('chat1');
void room.send('poll', { question: 'Lunch?', options: ['pizza', 'soup'], visibility: 'anonymous', closesAt: '2026-12-07T12:00:00Z' });
void room.send('text', { body: 'hi' }, { replyTo: { id: 'm1' } });
void chat.send('chat1', 'location', { lat: 1, lng: 2 });
chat.on('message', (m: Message<ChatHub>) => {
  if (m.messageType === 'poll') {
    const v: 'public' | 'anonymous' | undefined = m.content.visibility;
    const o: unknown = m.content.options;
    void v, o;
  }
});
void game.room('g1').send('move', { cell: 4 });
void game.room('g1').emit('rematchOffer', { bestOf: 3 });
void game.join('g1').then((j) => { const r: TicTacToe['roles'] | null = j.hubRole; void r; });
const canSend: ticTacToe.RolePermissions['spectator']['canSend'] = false;
type SendRoute = chatHub.RestApi['POST /chatHub/rooms/{roomId}/messages'];
const body: SendRoute['body'] = { messageType: 'text', content: { body: 'from REST' } };
const sig: chatHub.Signal = 'typing';
void canSend, body, sig;
`;

test('the generated files of every example hub and a usage file compile with --strict', async () => {
  const d = await compiled();
  const clean = Object.keys(d).filter((f) => !f.startsWith('wrong-'));
  assert.deepEqual(clean, [], JSON.stringify(d, null, 1));
});

for (const [what, line] of wrong) {
  test(`a usage file with ${what} fails to compile on that line`, async () => {
    const d = await compiled();
    const errs = d[wrongFile(what)] ?? [];
    assert.ok(errs.length > 0, `compiled: ${line}`);
    assert.deepEqual(errs.map((e) => e.line), [6], JSON.stringify(errs));
  });
}
