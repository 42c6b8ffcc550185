// Harness for end-to-end tests: runs the real hubd binary and talks to it
// with the official socket.io-client.
//
// The binary comes from HUBD_BIN (scripts/test.sh builds it to bin/hubd).
// Every daemon and socket made here is tracked and killed when the test
// process exits, whatever the outcome.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Root of the e2e fixtures. */
export const FIXTURES = path.resolve(here, '..', 'fixtures');

/** Secret the daemons under test verify HS256 tokens with. */
export const JWT_SECRET = 'hubd-e2e-secret-0123456789abcdef';

/** Default timeout for anything the tests wait for. */
export const TIMEOUT_MS = 10_000;

const liveDaemons = new Set();
const liveSockets = new Set();

function killEverything() {
  for (const s of liveSockets) {
    try {
      s.disconnect();
    } catch {
      // the socket is already gone
    }
  }
  liveSockets.clear();
  for (const d of liveDaemons) {
    if (d.child && d.child.exitCode === null && d.child.signalCode === null) {
      try {
        d.child.kill('SIGKILL');
      } catch {
        // the process is already gone
      }
    }
  }
}

process.on('exit', killEverything);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killEverything();
    process.exit(130);
  });
}

/** Path of the hubd binary under test. */
export function hubdBin() {
  const bin = process.env.HUBD_BIN;
  if (!bin) {
    throw new Error('HUBD_BIN is not set: build hubd (go build -o bin/hubd ./cmd/hubd) or run scripts/test.sh');
  }
  return path.resolve(bin);
}

/**
 * The environment of a spawned hubd: the test process's, less its HUBD_*
 * variables (HUBD_BIN and the test switches are not daemon configuration),
 * plus extra. The admin listener takes a free port unless extra says
 * otherwise (its default, 127.0.0.1:9090, would be shared by every daemon),
 * and SIGTERM does not wait for load balancers (shutdownDrain 0) unless
 * extra sets HUBD_SHUTDOWN_DRAIN.
 */
function daemonEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HUBD_')) env[k] = v;
  }
  return { ...env, HUBD_ADMIN__LISTEN: '127.0.0.1:0', HUBD_SHUTDOWN_DRAIN: '0s', ...extra };
}

/** Makes a fresh temporary directory. */
export async function tempDir(prefix = 'hubd-e2e-') {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Copies a fixture directory (relative to FIXTURES) into a new temp dir. */
export async function copyFixture(rel) {
  const dir = await tempDir('hubd-e2e-fx-');
  await cp(path.join(FIXTURES, rel), dir, { recursive: true });
  return dir;
}

/** Rejects after ms with an Error naming what was awaited. */
function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * A hubd process. Logs are JSON lines on stderr; every line is kept in
 * `logs` (parsed objects; lines that are not JSON become { raw }).
 */
export class Daemon {
  /**
   * @param {object} opts
   * @param {string} [opts.hubs] hubs dir (default fixtures/hubs)
   * @param {string} [opts.records] records dir (default fixtures/records)
   * @param {string} [opts.lib] lib dir (default fixtures/lib)
   * @param {string} [opts.data] data dir (default: a new temp dir, removed by close())
   * @param {string[]} [opts.args] extra arguments for `hubd serve`
   * @param {string[]} [opts.argv] full argument list instead of the default
   *   flags (for config-file and environment tests); the daemon must still
   *   log JSON
   * @param {Record<string,string>} [opts.env] extra environment
   * @param {string} [opts.store] message store: "embedded" or "postgres"
   *   (default HUBD_E2E_STORE, else embedded); postgres uses
   *   HUBD_TEST_DATABASE_URL and a schema of its own, dropped by close()
   */
  constructor(opts = {}) {
    this.hubs = opts.hubs ?? path.join(FIXTURES, 'hubs');
    this.records = opts.records ?? path.join(FIXTURES, 'records');
    this.lib = opts.lib ?? path.join(FIXTURES, 'lib');
    this.data = opts.data ?? null;
    this.ownsData = !opts.data;
    this.args = opts.args ?? [];
    this.argv = opts.argv ?? null;
    this.env = opts.env ?? {};
    this.store = opts.store ?? E2E_STORE;
    this.pgSchema = null;
    if (this.store === 'postgres') {
      this.pgSchema = uniqueSchema('e2e_msg');
      this.env = {
        HUBD_STORE: 'postgres',
        HUBD_POSTGRES__DSN: databaseUrl(),
        HUBD_POSTGRES__SCHEMA: this.pgSchema,
        ...this.env,
      };
    } else if (this.store !== 'embedded') {
      throw new Error(`unknown store ${this.store}`);
    }
    this.child = null;
    this.logs = [];
    this.stdout = '';
    this.addr = null;
    this.adminAddr = null;
    this.exit = null;
    this.logWaiters = new Set();
  }

  /** Base URL, e.g. http://127.0.0.1:40123 */
  get url() {
    return `http://${this.addr}`;
  }

  /**
   * Base URL of the admin listener (/metrics, POST /-/reload,
   * /debug/pprof/), e.g. http://127.0.0.1:40124
   */
  get adminUrl() {
    if (!this.adminAddr) throw new Error('this daemon has no admin listener (no "admin listening" log line)');
    return `http://${this.adminAddr}`;
  }

  /** GET /metrics from the admin listener; resolves with the text. */
  async metrics() {
    const res = await fetch(`${this.adminUrl}/metrics`);
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    return res.text();
  }

  /**
   * Spawns `hubd serve` and resolves once it logs `listening` (the admin
   * listener, when on, has logged `admin listening` before).
   */
  async start() {
    if (this.child && this.exit === null) {
      throw new Error('daemon already running');
    }
    if (!this.data) {
      this.data = await tempDir('hubd-e2e-data-');
    }
    const argv = this.argv ?? [
      'serve',
      '--listen', '127.0.0.1:0',
      '--admin-listen', '127.0.0.1:0',
      '--hubs', this.hubs,
      '--records', this.records,
      '--lib', this.lib,
      '--data', this.data,
      '--jwt-secret', JWT_SECRET,
      '--log-format', 'json',
      ...this.args,
    ];
    this.logs = [];
    this.stdout = '';
    this.addr = null;
    this.adminAddr = null;
    this.exit = null;
    const child = spawn(hubdBin(), argv, {
      env: daemonEnv(this.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    liveDaemons.add(this);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        liveDaemons.delete(this);
        for (const w of this.logWaiters) w.check(true);
        resolve(this.exit);
      });
    });
    child.on('error', (err) => {
      this.exit = { code: null, signal: null, error: err };
      for (const w of this.logWaiters) w.check(true);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      this.stdout += chunk;
    });
    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.trim() !== '') this.pushLog(line);
      }
    });
    const entry = await this.waitForLog((l) => l.msg === 'listening' && typeof l.addr === 'string', {
      what: '"listening" log line',
      timeoutMs: 20_000,
    });
    this.addr = entry.addr;
    this.adminAddr = this.logs.find((l) => l.msg === 'admin listening' && typeof l.addr === 'string')?.addr ?? null;
    if (this.pgSchema) {
      // The daemon must really run on PostgreSQL: its schema holds tables.
      const n = Number(
        psql(`SELECT count(*) FROM information_schema.tables WHERE table_schema = '${this.pgSchema}';`).trim(),
      );
      if (!(n > 0)) throw new Error(`schema ${this.pgSchema} has no tables: the daemon does not use PostgreSQL`);
    }
    return this;
  }

  pushLog(line) {
    let entry;
    try {
      entry = JSON.parse(line);
      if (entry === null || typeof entry !== 'object') entry = { raw: line };
    } catch {
      entry = { raw: line };
    }
    this.logs.push(entry);
    if (process.env.HUBD_E2E_VERBOSE) process.stderr.write(`[hubd ${this.addr ?? '?'}] ${line}\n`);
    for (const w of this.logWaiters) w.check(false);
  }

  /** The last lines of the log, for error messages. */
  logTail(n = 20) {
    return this.logs
      .slice(-n)
      .map((l) => (l.raw !== undefined ? l.raw : JSON.stringify(l)))
      .join('\n');
  }

  /**
   * Resolves with the first log entry at index >= from matching pred.
   * Rejects when the process exits first or on timeout.
   */
  waitForLog(pred, { from = 0, timeoutMs = TIMEOUT_MS, what = 'log line' } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.logWaiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}; log tail:\n${this.logTail()}`));
      }, timeoutMs);
      const waiter = {
        check: (exited) => {
          for (let i = from; i < this.logs.length; i++) {
            if (pred(this.logs[i])) {
              clearTimeout(timer);
              this.logWaiters.delete(waiter);
              resolve(this.logs[i]);
              return;
            }
          }
          if (exited || this.exit !== null) {
            clearTimeout(timer);
            this.logWaiters.delete(waiter);
            reject(
              new Error(
                `hubd exited (${JSON.stringify(this.exit)}) while waiting for ${what}; log tail:\n${this.logTail()}`,
              ),
            );
          }
        },
      };
      this.logWaiters.add(waiter);
      waiter.check(false);
    });
  }

  /** Sends SIGTERM and resolves with { code, signal } once it exits. */
  async stop({ timeoutMs = 15_000 } = {}) {
    if (!this.child || this.exit !== null) return this.exit;
    this.child.kill('SIGTERM');
    const d = deadline(timeoutMs, 'hubd to exit after SIGTERM');
    try {
      return await Promise.race([this.exited, d.promise]);
    } catch (err) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw err;
    } finally {
      d.cancel();
    }
  }

  /** Stops (SIGTERM) and starts again with the same dirs, data included. */
  async restart() {
    const exit = await this.stop();
    await this.start();
    return exit;
  }

  /**
   * Sends SIGHUP and resolves with the next `reload complete` or
   * `reload failed` log entry.
   */
  async reload({ timeoutMs = TIMEOUT_MS } = {}) {
    const from = this.logs.length;
    this.child.kill('SIGHUP');
    return this.waitForLog((l) => l.msg === 'reload complete' || l.msg === 'reload failed', {
      from,
      timeoutMs,
      what: 'reload result log line',
    });
  }

  /** Stops the daemon (SIGKILL if it hangs) and removes its temp data dir. */
  async close() {
    try {
      await this.stop();
    } finally {
      if (this.ownsData && this.data) {
        await rm(this.data, { recursive: true, force: true });
        this.data = null;
      }
      if (this.pgSchema) {
        dropSchema(this.pgSchema);
        this.pgSchema = null;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL

/** Message store of the daemons of this run: HUBD_E2E_STORE or embedded. */
export const E2E_STORE = process.env.HUBD_E2E_STORE || 'embedded';

/** HUBD_TEST_DATABASE_URL, or an Error telling how to get one. */
export function databaseUrl() {
  const url = process.env.HUBD_TEST_DATABASE_URL;
  if (!url) throw new Error('HUBD_TEST_DATABASE_URL is not set: run scripts/test.sh (it starts PostgreSQL)');
  return url;
}

/** A schema name nobody else uses: prefix, pid and random hex. */
export function uniqueSchema(prefix) {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * Runs SQL with psql against HUBD_TEST_DATABASE_URL (stops at the first
 * error) and returns its stdout.
 */
export function psql(sql) {
  const r = spawnSync('psql', [databaseUrl(), '-v', 'ON_ERROR_STOP=1', '-qAt', '-f', '-'], {
    input: sql,
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`psql: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`psql exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function dropSchema(schema) {
  try {
    psql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE;`);
  } catch (err) {
    process.stderr.write(`warning: dropping schema ${schema}: ${err.message}\n`);
  }
}

/** Starts a daemon; see Daemon for options. */
export async function startDaemon(opts) {
  const d = new Daemon(opts);
  await d.start();
  return d;
}

/**
 * Runs a hubd subcommand to completion (in cwd, default this process's)
 * and resolves with { code, signal, stdout, stderr }.
 */
export async function runHubd(args, { timeoutMs = 30_000, env = {}, cwd } = {}) {
  const child = spawn(hubdBin(), args, {
    env: daemonEnv(env),
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c) => {
    stderr += c;
  });
  const d = deadline(timeoutMs, `hubd ${args.join(' ')}`);
  try {
    const [code, signal] = await Promise.race([once(child, 'exit'), d.promise]);
    return { code, signal, stdout, stderr };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    d.cancel();
  }
}

// ---------------------------------------------------------------------------
// Tokens

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

/**
 * Makes an HS256 JWT. claims usually holds userId and roleId; exp is set
 * from ttlSeconds (negative for an expired token) unless claims has one.
 */
export function makeToken(claims, { secret = JWT_SECRET, ttlSeconds = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url({ alg: 'HS256', typ: 'JWT' });
  const payload = b64url({ iat: now, exp: now + ttlSeconds, ...claims });
  const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

// ---------------------------------------------------------------------------
// Socket.IO clients

/** Client options for each transport mode under test. */
export const TRANSPORTS = Object.freeze({
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'], upgrade: false },
  upgrade: { transports: ['polling', 'websocket'], upgrade: true },
});

/** The transport modes, for `for (const t of TRANSPORT_NAMES)` loops. */
export const TRANSPORT_NAMES = Object.keys(TRANSPORTS);

function record(socket) {
  socket.received = [];
  socket.eventWaiters = new Set();
  socket.onAny((name, ...args) => {
    const ev = { name, data: args[0], args };
    socket.received.push(ev);
    for (const w of socket.eventWaiters) w(ev);
  });
}

function makeSocket(baseUrl, nsp, opts) {
  const { transport = 'websocket', token, auth, headers, query, path: ioPath, reconnect = false, client = {} } = opts;
  const mode = TRANSPORTS[transport];
  if (!mode) throw new Error(`unknown transport mode ${transport}`);
  const socketAuth = auth ?? (token !== undefined ? { token } : undefined);
  const socket = io(baseUrl + nsp, {
    ...mode,
    path: ioPath ?? '/socket.io/',
    forceNew: true,
    ...(reconnect ? { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 } : { reconnection: false }),
    timeout: TIMEOUT_MS,
    ...(socketAuth !== undefined ? { auth: socketAuth } : {}),
    ...(headers ? { extraHeaders: headers } : {}),
    ...(query ? { query } : {}),
    ...client,
  });
  liveSockets.add(socket);
  socket.on('disconnect', (reason) => {
    socket.disconnectReason = reason;
    // A socket that reconnects by itself stays tracked, so that
    // disconnectAll also stops its reconnection timers.
    if (!socket.active) liveSockets.delete(socket);
  });
  record(socket);
  return socket;
}

/**
 * Connects to namespace nsp (e.g. "/hub/chat") of the daemon at baseUrl.
 * Options: transport ("websocket" | "polling" | "upgrade"), token (sent as
 * auth.token), auth, headers (extraHeaders), query, path, reconnect (the
 * client reconnects by itself after a lost connection, retrying every
 * 100-500 ms; off by default), client (more socket.io-client options, such
 * as perMessageDeflate).
 * In "upgrade" mode it also waits until the transport is websocket.
 * Resolves with the connected socket; rejects with the connect_error.
 */
export async function connect(baseUrl, nsp, opts = {}) {
  const socket = makeSocket(baseUrl, nsp, opts);
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${nsp} timed out after ${timeoutMs}ms`)), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    if ((opts.transport ?? 'websocket') === 'upgrade') {
      await waitForUpgrade(socket, timeoutMs);
    }
  } catch (err) {
    socket.disconnect();
    liveSockets.delete(socket);
    throw err;
  }
  return socket;
}

/** Resolves once the engine of socket runs over websocket. */
export async function waitForUpgrade(socket, timeoutMs = TIMEOUT_MS) {
  const engine = socket.io.engine;
  if (engine.transport && engine.transport.name === 'websocket') return;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`upgrade to websocket timed out after ${timeoutMs}ms (transport ${engine.transport?.name})`)),
      timeoutMs,
    );
    engine.once('upgrade', () => {
      clearTimeout(timer);
      resolve();
    });
    engine.once('upgradeError', (err) => {
      clearTimeout(timer);
      reject(new Error(`upgrade failed: ${err?.message ?? err}`));
    });
  });
}

/**
 * Tries to connect and resolves with the connect_error Error (its
 * `message`, and `data` when the server sent any). Rejects if the
 * connection succeeds.
 */
export async function connectError(baseUrl, nsp, opts = {}) {
  try {
    const socket = await connect(baseUrl, nsp, opts);
    socket.disconnect();
    throw new Error(`expected connect_error for ${nsp}, but it connected`);
  } catch (err) {
    if (err.message.startsWith('expected connect_error')) throw err;
    return err;
  }
}

/** Emits event with payload and resolves with the ack, or rejects on timeout. */
export async function emitWithAck(socket, event, payload, timeoutMs = TIMEOUT_MS) {
  try {
    return await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (err) {
    throw new Error(`no ack for ${event} within ${timeoutMs}ms: ${err.message}`);
  }
}

/**
 * Resolves with the payload of the first `name` event matching predicate
 * (already received on this socket, or arriving before timeoutMs).
 * Pass { after: n } to skip the first n recorded events.
 */
export function waitForEvent(socket, name, predicate = () => true, timeoutMs = TIMEOUT_MS, { after = 0 } = {}) {
  const found = socket.received.slice(after).find((ev) => ev.name === name && predicate(ev.data));
  if (found) return Promise.resolve(found.data);
  return new Promise((resolve, reject) => {
    const waiter = (ev) => {
      if (ev.name === name && predicate(ev.data)) {
        clearTimeout(timer);
        socket.eventWaiters.delete(waiter);
        resolve(ev.data);
      }
    };
    const timer = setTimeout(() => {
      socket.eventWaiters.delete(waiter);
      const seen = socket.received.map((e) => e.name).join(', ');
      reject(new Error(`timed out after ${timeoutMs}ms waiting for ${name}; received: [${seen}]`));
    }, timeoutMs);
    socket.eventWaiters.add(waiter);
  });
}

/** Payloads of the recorded `name` events matching predicate. */
export function eventsNamed(socket, name, predicate = () => true) {
  return socket.received.filter((ev) => ev.name === name && predicate(ev.data)).map((ev) => ev.data);
}

/** Resolves when socket disconnects, with the reason. */
export function waitForDisconnect(socket, timeoutMs = TIMEOUT_MS) {
  if (!socket.connected && socket.disconnectReason) return Promise.resolve(socket.disconnectReason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no disconnect within ${timeoutMs}ms`)), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Disconnects every socket made by connect(). */
export function disconnectAll() {
  for (const s of liveSockets) s.disconnect();
  liveSockets.clear();
}

/** Polls fn until it returns a truthy value, for conditions without events. */
export async function until(fn, { timeoutMs = TIMEOUT_MS, intervalMs = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Reads the Engine.IO handshake of the daemon over HTTP polling and
 * returns the open packet ({ sid, upgrades, pingInterval, pingTimeout,
 * maxPayload }). The session is closed again unless keepOpen is set.
 */
export async function engineHandshake(baseUrl, { path: ioPath = '/socket.io/', keepOpen = false } = {}) {
  const res = await fetch(`${baseUrl}${ioPath}?EIO=4&transport=polling`);
  const body = await res.text();
  if (res.status !== 200 || !body.startsWith('0')) {
    throw new Error(`unexpected handshake response ${res.status}: ${body.slice(0, 200)}`);
  }
  const open = JSON.parse(body.slice(1));
  if (!keepOpen) {
    // Engine.IO close packet "1".
    const close = await fetch(`${baseUrl}${ioPath}?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: '1',
    });
    await close.text();
  }
  return open;
}
