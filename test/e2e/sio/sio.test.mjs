// End-to-end tests of pkg/sio with the official socket.io-client v4.
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
import { io, Manager } from "socket.io-client";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let proc;
let url;
let tmp;

async function startServer() {
  tmp = mkdtempSync(join(tmpdir(), "sio-e2e-"));
  const bin = join(tmp, "server");
  execFileSync("go", ["build", "-o", bin, "./test/e2e/sio/server"], { cwd: root, stdio: "inherit" });
  proc = spawn(bin, ["-addr", "127.0.0.1:0", "-ping-interval", "2s", "-ping-timeout", "2s"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const rl = createInterface({ input: proc.stdout });
  const [line] = await once(rl, "line");
  const m = /^listening (.+)$/.exec(line);
  assert.ok(m, `unexpected first line: ${line}`);
  url = `http://${m[1]}`;
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

function next(socket, event, ms = 3000) {
  return withTimeout(
    new Promise((res) => socket.once(event, (...args) => res(args))),
    ms,
    event,
  );
}

const modes = [
  { name: "websocket", opts: { transports: ["websocket"] }, want: "websocket" },
  { name: "polling", opts: { transports: ["polling"] }, want: "polling" },
  { name: "polling+upgrade", opts: { transports: ["polling", "websocket"] }, want: "websocket" },
];

// connect opens a socket and waits until it is connected on the wanted
// transport (for the upgrade mode, until the upgrade finished).
async function connect(mode, nsp = "/", extra = {}) {
  const socket = io(url + nsp, { forceNew: true, reconnection: false, ...mode.opts, ...extra });
  const authP = next(socket, "auth");
  await next(socket, "connect");
  const engine = socket.io.engine;
  if (engine.transport.name !== mode.want) {
    await withTimeout(once(engine, "upgrade"), 3000, "upgrade");
  }
  assert.equal(engine.transport.name, mode.want);
  const [auth] = await authP;
  return { socket, auth };
}

before(startServer);
after(() => {
  proc?.kill("SIGTERM");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

for (const mode of modes) {
  describe(`sio over ${mode.name}`, () => {
    it("connects with an auth payload", async () => {
      const { socket, auth } = await connect(mode, "/", { auth: { token: "t-1" } });
      assert.deepEqual(auth, { token: "t-1" });
      assert.equal(typeof socket.id, "string");
      assert.ok(socket.id.length > 0);
      socket.disconnect();
    });

    it("gets a connect error with message and data", async () => {
      const socket = io(url, { forceNew: true, reconnection: false, ...mode.opts, auth: { fail: true } });
      const [err] = await next(socket, "connect_error");
      assert.equal(err.message, "refused");
      assert.deepEqual(err.data, { reason: "test" });
      socket.close();
    });

    it("gets a connect error for an unknown namespace", async () => {
      const socket = io(url + "/nope", { forceNew: true, reconnection: false, ...mode.opts });
      const [err] = await next(socket, "connect_error");
      assert.equal(err.message, "Invalid namespace");
      socket.close();
    });

    it("emits with an ack, client to server", async () => {
      const { socket } = await connect(mode);
      const args = await withTimeout(
        new Promise((res) => socket.emit("message-with-ack", 1, "2", { 3: [true] }, (...a) => res(a))),
        3000,
        "ack",
      );
      assert.deepEqual(args, [1, "2", { 3: [true] }]);
      socket.emit("message", "hi", { n: null });
      const back = await next(socket, "message-back");
      assert.deepEqual(back, ["hi", { n: null }]);
      socket.disconnect();
    });

    it("emits with an ack, server to client", async () => {
      const { socket } = await connect(mode);
      socket.on("ask", (a, cb) => cb("answer", a + 1));
      const resultP = next(socket, "server-ack-result");
      socket.emit("server-ack", "ask", 41);
      assert.deepEqual(await resultP, ["answer", 42]);
      socket.disconnect();
    });

    it("sends binary attachments both ways", async () => {
      const { socket } = await connect(mode);
      const backP = next(socket, "message-back");
      socket.emit("message", Buffer.from([1, 2, 3]), { k: "v" }, Uint8Array.from([4, 5]));
      const back = await backP;
      assert.equal(back.length, 3);
      assert.deepEqual([...new Uint8Array(back[0])], [1, 2, 3]);
      assert.deepEqual(back[1], { k: "v" });
      assert.deepEqual([...new Uint8Array(back[2])], [4, 5]);
      const acked = await withTimeout(
        new Promise((res) => socket.emit("message-with-ack", Buffer.from([9]), (...a) => res(a))),
        3000,
        "binary ack",
      );
      assert.deepEqual([...new Uint8Array(acked[0])], [9]);
      socket.disconnect();
    });

    it("multiplexes several namespaces over one connection", async () => {
      const manager = new Manager(url, { reconnection: false, ...mode.opts });
      const main = manager.socket("/", { auth: { ns: "main" } });
      const custom = manager.socket("/custom", { auth: { ns: "custom" } });
      const alias = manager.socket("/x/custom", { auth: { ns: "alias" } });
      const [a1, a2, a3] = await Promise.all([next(main, "auth"), next(custom, "auth"), next(alias, "auth")]);
      assert.deepEqual(a1[0], { ns: "main" });
      assert.deepEqual(a2[0], { ns: "custom" });
      assert.deepEqual(a3[0], { ns: "alias" });
      assert.equal(main.io.engine, custom.io.engine);
      const p1 = next(custom, "message-back");
      const p2 = next(alias, "message-back");
      custom.emit("message", "c");
      alias.emit("message", "a");
      assert.deepEqual(await p1, ["c"]);
      assert.deepEqual(await p2, ["a"]);
      // Leaving one namespace keeps the others working.
      custom.disconnect();
      const p3 = next(main, "message-back");
      main.emit("message", "still here");
      assert.deepEqual(await p3, ["still here"]);
      main.disconnect();
      alias.disconnect();
    });

    it("broadcasts to a room, sender and non-members excluded", async () => {
      const room = `room-${mode.name}`;
      const a = (await connect(mode)).socket;
      const b = (await connect(mode)).socket;
      const outsider = (await connect(mode)).socket;
      const join = (s) =>
        withTimeout(new Promise((res) => s.emit("join", room, res)), 3000, "join");
      await join(a);
      await join(b);
      let outsiderGot = 0;
      outsider.on("news", () => outsiderGot++);
      let aGot = 0;
      a.on("news", () => aGot++);
      const bP = next(b, "news");
      await withTimeout(new Promise((res) => a.emit("broadcast", room, "news", "hello", Buffer.from([7]), res)), 3000, "broadcast");
      const got = await bP;
      assert.equal(got[0], "hello");
      assert.deepEqual([...new Uint8Array(got[1])], [7]);
      // A round trip on each socket after the broadcast proves nothing more is coming.
      for (const s of [a, outsider]) {
        const p = next(s, "message-back");
        s.emit("message", "sync");
        await p;
      }
      assert.equal(aGot, 0);
      assert.equal(outsiderGot, 0);
      for (const s of [a, b, outsider]) s.disconnect();
    });

    it("is disconnected by the server", async () => {
      const { socket } = await connect(mode);
      const p = next(socket, "disconnect");
      socket.emit("disconnect-me");
      const [reason] = await p;
      assert.equal(reason, "io server disconnect");
      socket.close();
    });
  });
}
