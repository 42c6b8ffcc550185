// The README's "Try it" works as written: its client script, its token
// command and the example config, run against the real daemon (on a free
// port instead of 8080, with socket.io-client from this directory instead
// of a fresh npm install).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Daemon, runHubd, tempDir } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** The shell block of the README's "Try it" section. */
async function tryItBlock() {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Try it'));
  const m = section.match(/```sh\n([\s\S]*?)\n```/);
  assert.ok(m, 'README has a sh block under "Try it"');
  return m[1];
}

test('README "Try it": the client joins chat1 as owner, sends and receives its message, and exits 0', async () => {
  const block = await tryItBlock();
  assert.match(block, /bin\/hubd serve --config configs\/hubd\.yaml &/);
  assert.match(block, /^export TOKEN=/m, 'the token is exported for node');
  const script = block.match(/cat > try\.mjs <<'EOF'\n([\s\S]*?)\nEOF\n/)?.[1];
  assert.ok(script, 'a try.mjs heredoc');
  assert.match(script, /connect_error/, 'connect errors are printed');
  const tokenArgs = block.match(/\$\(bin\/hubd (token [^)]*)\)/)?.[1].split(/\s+/);
  assert.ok(tokenArgs, 'a hubd token command');

  const data = await tempDir();
  const hubd = new Daemon({
    argv: ['serve', '--config', path.join(root, 'configs', 'hubd.yaml'), '--listen', '127.0.0.1:0', '--data', data, '--log-format', 'json'],
  });
  cleanup.push(() => rm(data, { recursive: true, force: true }));
  cleanup.push(() => hubd.close());
  await hubd.start();

  const token = await runHubd(tokenArgs);
  assert.equal(token.code, 0, token.stderr);
  // Beside this suite's node_modules, so that "socket.io-client" resolves.
  const file = path.join(here, `.readme-try-${process.pid}.mjs`);
  await writeFile(file, script.replace('http://127.0.0.1:8080', hubd.url));
  cleanup.push(() => rm(file, { force: true }));

  const child = spawn(process.execPath, [file], {
    env: { ...process.env, TOKEN: token.stdout.trim() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, `stdout:\n${out}\nstderr:\n${err}`);
  assert.equal(out, 'joined chat1 as owner\nmessage from u1: hello\n');
});

test('README "Try it" with a wrong token prints the connect error and exits 1; the debug log says why', async () => {
  const block = await tryItBlock();
  const script = block.match(/cat > try\.mjs <<'EOF'\n([\s\S]*?)\nEOF\n/)[1];
  const data = await tempDir();
  const hubd = new Daemon({
    argv: ['serve', '--config', path.join(root, 'configs', 'hubd.yaml'), '--listen', '127.0.0.1:0', '--data', data, '--log-format', 'json', '--log-level', 'debug'],
  });
  cleanup.push(() => rm(data, { recursive: true, force: true }));
  cleanup.push(() => hubd.close());
  await hubd.start();
  const file = path.join(here, `.readme-try-bad-${process.pid}.mjs`);
  await writeFile(file, script.replace('http://127.0.0.1:8080', hubd.url));
  cleanup.push(() => rm(file, { force: true }));
  const child = spawn(process.execPath, [file], { env: { ...process.env, TOKEN: 'not-a-token' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const [code] = await once(child, 'exit');
  assert.equal(code, 1);
  assert.match(err, /^connect_error: Invalid token$/m);
  // docs/troubleshooting.md: "A token is refused".
  const refused = await hubd.waitForLog((l) => l.msg === 'connect refused', { what: 'connect refused' });
  assert.equal(refused.code, 'INVALID_TOKEN');
  assert.match(refused.error, /token is malformed/);
  assert.ok(!JSON.stringify(refused).includes('not-a-token'), 'the token itself is not logged');
});
