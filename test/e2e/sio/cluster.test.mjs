// Two test servers sharing broadcasts through Redis, driven by the official
// socket.io-client v4. Needs HUBD_TEST_REDIS_ADDR (scripts/test.sh with
// HUBD_TEST_SERVICES=1 provides it); skipped without it.
// Run from the repository root: node --test test/e2e/sio/
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { io } from "socket.io-client";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const redis = process.env.HUBD_TEST_REDIS_ADDR;
const skip = redis ? false : "HUBD_TEST_REDIS_ADDR not set: cluster tests need Redis";

const procs = [];
const urls = [];
let tmp;

async function startNode(bin, prefix) {
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-redis", redis, "-redis-prefix", prefix], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  procs.push(proc);
  const rl = createInterface({ input: proc.stdout });
  const [line] = await once(rl, "line");
  const m = /^listening (.+)$/.exec(line);
  assert.ok(m, `unexpected first line: ${line}`);
  return `http://${m[1]}`;
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

const modes = [
  { name: "websocket", opts: { transports: ["websocket"] }, want: "websocket" },
  { name: "polling", opts: { transports: ["polling"] }, want: "polling" },
  { name: "polling+upgrade", opts: { transports: ["polling", "websocket"] }, want: "websocket" },
];

async function connect(url, mode, nsp = "/") {
  const socket = io(url + nsp, { forceNew: true, reconnection: false, ...mode.opts });
  // Every event is recorded in order, to check for duplicates.
  socket.got = [];
  socket.onAny((event, ...args) => socket.got.push([event, ...args]));
  await withTimeout(once(socket, "connect"), 3000, "connect");
  const engine = socket.io.engine;
  if (engine.transport.name !== mode.want) {
    await withTimeout(once(engine, "upgrade"), 3000, "upgrade");
  }
  return socket;
}

const call = (s, ...args) => withTimeout(new Promise((res) => s.emit(...args, res)), 3000, args[0]);

async function until(socket, event) {
  const deadline = Date.now() + 5000;
  while (!socket.got.some(([e]) => e === event)) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${event}, got ${JSON.stringify(socket.got)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return socket.got.filter(([e]) => e !== "auth");
}

describe("sio cluster through Redis", { skip }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "sio-cluster-"));
    const bin = join(tmp, "server");
    execFileSync("go", ["build", "-o", bin, "./test/e2e/sio/server"], { cwd: root, stdio: "inherit" });
    const prefix = `hubd-e2e:${randomBytes(6).toString("hex")}:`;
    urls.push(await startNode(bin, prefix), await startNode(bin, prefix));
  });
  after(() => {
    for (const p of procs) p.kill("SIGTERM");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const mode of modes) {
    it(`a room broadcast on one node reaches the other node exactly once (${mode.name})`, async () => {
      const room = `room-${mode.name}`;
      const [a, b] = [await connect(urls[0], mode), await connect(urls[1], mode)];
      const c = await connect(urls[1], mode, "/x/custom");
      const outsider = await connect(urls[1], mode);
      for (const s of [a, b]) await call(s, "join", room);
      await call(c, "join", room);
      // a is the sender: excluded on its node; b and the /custom alias
      // member are on the other node; outsider is not in the room.
      await call(a, "broadcast", room, "news", "hello", Buffer.from([7, 8]));
      await call(a, "broadcast", room, "end");
      const got = await until(b, "end");
      assert.equal(got.length, 2, JSON.stringify(got));
      assert.equal(got[0][0], "news");
      assert.equal(got[0][1], "hello");
      assert.deepEqual([...new Uint8Array(got[0][2])], [7, 8]);
      assert.equal(got[1][0], "end");
      // /custom is another namespace: a broadcast in "/" does not reach it.
      await call(c, "broadcast", room, "custom-only");
      await call(outsider, "broadcast", room, "from-b-node");
      const aGot = await until(a, "from-b-node");
      assert.deepEqual(aGot.map(([e]) => e), ["from-b-node"]);
      assert.deepEqual(c.got.filter(([e]) => e !== "auth"), []);
      assert.deepEqual(outsider.got.filter(([e]) => e !== "auth"), []);
      for (const s of [a, b, c, outsider]) s.disconnect();
    });
  }
});
