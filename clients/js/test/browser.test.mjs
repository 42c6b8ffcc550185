// @hubd/client in headless Chromium (Debian's chromium, puppeteer-core from
// test/e2e): the ES build loads in a page with an import map, talks to the
// real daemon over polling upgraded to WebSocket, and rides out a network
// drop with nothing lost and nothing doubled. The page is served from
// another origin (port) than the daemon: REST calls work when the daemon's
// socketio.allowedOrigins lets that origin in, and fail when it does not.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchBrowser, newUserPage } from '../../../test/e2e/lib/browser.mjs';
import { PEOPLE } from '../../../test/e2e/lib/features.mjs';
import { startFeatures } from '../../../test/e2e/lib/features.mjs';
import { clientOf, FROOMS, Proxy, tokenOf, until } from './lib.mjs';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>hubd client</title>
<script type="importmap">{ "imports": { "socket.io-client": "/sio.js" } }</script>
<script type="module">
  import { HubClient, HubError } from '/client/index.js';
  window.run = async (url, token, roomId) => {
    const client = new HubClient(url, 'ops', { token, ackTimeoutMs: 3000,
      socket: { reconnectionDelay: 100, reconnectionDelayMax: 400 } });
    window.client = client;
    window.got = [];
    window.acked = [];
    window.rejoins = 0;
    client.on('message', (m) => window.got.push({ id: m.id, seq: m.seq, body: m.content.body }));
    client.on('rejoined', () => window.rejoins++);
    const res = await client.join(roomId);
    try { await client.send(roomId, 'text', {}); } catch (err) { window.refused = err instanceof HubError ? err.code : String(err); }
    return res;
  };
  window.sendMany = (roomId, prefix, n) => {
    for (let i = 0; i < n; i++) window.client.send(roomId, 'text', { body: prefix + i }).then((m) => window.acked.push(m.id));
  };
  window.presence = async (url, token, roomId) => {
    const client = new HubClient(url, 'ops', { token, ackTimeoutMs: 3000, socket: { autoConnect: false } });
    try {
      return { users: [...(await client.fetchPresence(roomId)).keys()] };
    } catch (err) {
      return { code: err instanceof HubError ? err.code : String(err) };
    } finally {
      client.close();
    }
  };
  window.ready = true;
</script></head><body></body></html>`;

/** Serves the page, the ES build under /client/ and socket.io-client's ES bundle. */
function staticServer() {
  const files = {
    '/sio.js': path.join(pkg, 'node_modules/socket.io-client/dist/socket.io.esm.min.js'),
  };
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const file = files[url.pathname] ?? (url.pathname.startsWith('/client/') && !url.pathname.includes('..')
      ? path.join(pkg, 'dist/esm', url.pathname.slice('/client/'.length))
      : null);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
}

let daemon, proxy, server, chromium;
before(async () => {
  daemon = await startFeatures();
  proxy = await new Proxy(daemon.addr).listen();
  server = staticServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  chromium = await launchBrowser();
});
after(async () => {
  await chromium?.close();
  server?.close();
  await proxy?.close();
  await daemon?.close();
});

test('the ES build in Chromium: typed errors, live messages, and a network drop with sends queued', async () => {
  const room = FROOMS.room6;
  const page = await newUserPage(chromium.browser);
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.ready === true);
  const joined = await page.evaluate((u, t, r) => window.run(u, t, r), proxy.url, tokenOf('alice'), room);
  assert.equal(joined.hubRole, 'member');
  assert.equal(await page.evaluate(() => window.refused), 'INVALID_MESSAGE');

  const bob = clientOf(daemon.url, 'ops', 'bob');
  await bob.join(room);
  await Promise.all(Array.from({ length: 20 }, (_, i) => bob.send(room, 'text', { body: `b${i}` })));
  await page.evaluate((r) => window.sendMany(r, 'a', 10), room);
  await page.waitForFunction(() => window.got.length >= 30 && window.acked.length === 10);

  proxy.drop();
  await page.waitForFunction(() => !window.client.connected);
  await page.evaluate((r) => window.sendMany(r, 'q', 10), room); // queued offline
  await Promise.all(Array.from({ length: 20 }, (_, i) => bob.send(room, 'text', { body: `m${i}` }))); // missed
  proxy.restore();
  await page.waitForFunction(() => window.got.length >= 60 && window.acked.length === 20, { timeout: 20_000 });

  const { got, acked, rejoins, recovered } = await page.evaluate(() => ({
    got: window.got,
    acked: window.acked,
    rejoins: window.rejoins,
    recovered: window.client.socket.recovered,
  }));
  assert.equal(new Set(got.map((m) => m.id)).size, got.length, 'no message delivered twice');
  for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq, `seq order at ${i}`);
  const want = ['b', 'a', 'q', 'm'].flatMap((p) => Array.from({ length: p === 'b' || p === 'm' ? 20 : 10 }, (_, i) => p + i));
  assert.deepEqual(got.map((m) => m.body).sort(), want.sort());
  assert.equal(new Set(acked).size, 20);
  assert.ok(rejoins >= 1 || recovered, 'the page rejoined with since (or the server recovered its session)');
  await until(async () => (await bob.history(room, { limit: 200 })).length === 60, { what: 'the store holds 60 messages' });
  const pageErrors = page.errors.filter((e) => e.startsWith('pageerror'));
  assert.deepEqual(pageErrors, []);
  bob.close();
});

test('a page on another origin calls REST (fetchPresence) when allowedOrigins lets it in, and fails otherwise', async () => {
  const room = FROOMS.room7;
  const pageOrigin = `http://127.0.0.1:${server.address().port}`;
  const allowing = await startFeatures({ env: { HUBD_SOCKETIO__ALLOWED_ORIGINS: pageOrigin } });
  const refusing = await startFeatures({ env: { HUBD_SOCKETIO__ALLOWED_ORIGINS: 'https://app.example' } });
  try {
    const page = await newUserPage(chromium.browser);
    await page.goto(pageOrigin + '/');
    await page.waitForFunction(() => window.ready === true);
    for (const d of [allowing, refusing]) {
      assert.notEqual(new URL(d.url).origin, pageOrigin, 'the page is on another origin than the daemon');
      const bob = clientOf(d.url, 'ops', 'bob');
      await bob.join(room);
    }
    const ok = await page.evaluate((u, t, r) => window.presence(u, t, r), allowing.url, tokenOf('alice'), room);
    assert.deepEqual(ok, { users: [PEOPLE.bob.userId] }, 'the allowed origin reads who is present');
    const refused = await page.evaluate((u, t, r) => window.presence(u, t, r), refusing.url, tokenOf('alice'), room);
    assert.deepEqual(refused, { code: 'CONNECT_FAILED' }, 'the browser keeps the answer from an origin not allowed');
  } finally {
    await allowing.close();
    await refusing.close();
  }
});
