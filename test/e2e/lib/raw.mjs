// Raw Engine.IO / Socket.IO traffic for the hardening suite: a WebSocket
// that sends exactly the bytes it is given (ws), the daemon's refusal
// counters from /metrics and its resident memory from /proc.

import { readFileSync, writeFileSync } from 'node:fs';

import WebSocket from 'ws';

import { TIMEOUT_MS } from './harness.mjs';

/**
 * A raw Engine.IO WebSocket session. `texts` keeps the text frames
 * received (pings left out), `closed` resolves with { code } when the
 * connection ends: the close code the server sent, 1006 when it closed the
 * TCP connection without one.
 */
export class RawSocket {
  constructor(baseUrl) {
    const u = new URL('/socket.io/?EIO=4&transport=websocket', baseUrl.replace(/^http/, 'ws'));
    this.ws = new WebSocket(u, { perMessageDeflate: false, maxPayload: 0 });
    this.texts = [];
    this.waiters = new Set();
    this.ws.on('error', () => {}); // writes after the server's close fail; the close says why
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const s = data.toString();
      if (s === '2') {
        this.ws.send('3');
        return;
      }
      this.texts.push(s);
      for (const w of this.waiters) w();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code) => resolve({ code }));
    });
  }

  /** Resolves once the Engine.IO open packet arrived. */
  async open() {
    await this.next((s) => s.startsWith('0{'), 'open packet');
    return this;
  }

  /** Resolves with the first text frame (received or to come) matching pred. */
  next(pred, what = 'frame', timeoutMs = TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const got = this.texts.find(pred);
        if (got === undefined) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(got);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs}ms; got ${JSON.stringify(this.texts).slice(0, 300)}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  /** Joins nsp with auth and resolves with the CONNECT reply. */
  async connect(nsp, auth = {}) {
    this.text(`40${nsp},${JSON.stringify(auth)}`);
    return this.next((s) => s.startsWith(`40${nsp},`) || s.startsWith(`44${nsp},`), `CONNECT reply of ${nsp}`);
  }

  /** Sends a text frame: a string, or raw bytes sent as they are. */
  text(data) {
    this.ws.send(data, { binary: false });
  }

  /** Sends a binary frame; false once the connection is gone. */
  binary(buf) {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(buf, { binary: true });
    return true;
  }

  /** Resolves with the close code, failing after timeoutMs. */
  async closeCode(timeoutMs = TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs}ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.closed, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  end() {
    this.ws.terminate();
  }
}

/** Opens a raw session and waits for its open packet. */
export function rawSocket(baseUrl) {
  return new RawSocket(baseUrl).open();
}

/** A binary event header on nsp ('' for '/') announcing n attachments. */
export function binaryHeader(nsp, n, extra = '') {
  const phs = Array.from({ length: n }, (_, i) => `,{"_placeholder":true,"num":${i}}`).join('');
  return `45${n}-${nsp ? `${nsp},` : ''}["x"${extra}${phs}]`;
}

/** hubd_refusals_total by reason, read from the daemon's /metrics. */
export async function refusals(daemon) {
  const out = {};
  for (const line of (await daemon.metrics()).split('\n')) {
    const m = /^hubd_refusals_total\{reason="([a-z0-9_]+)"\} (\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** The refusal counters that changed between two readings. */
export function refusalDelta(before, after) {
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  }
  return out;
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
export function procBytes(pid, field = 'VmRSS') {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Resets the peak resident set size (VmHWM) of pid to its current RSS
 * (clear_refs 5, Linux >= 4.0); false when the kernel does not allow it.
 */
export function resetPeakRSS(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
