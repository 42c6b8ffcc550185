// The test Redis (HUBD_TEST_REDIS_ADDR, started by scripts/test.sh) through
// redis-cli.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';

/** Runs redis-cli against HUBD_TEST_REDIS_ADDR and returns its trimmed stdout. */
export function redis(...args) {
  const [host, port] = process.env.HUBD_TEST_REDIS_ADDR.split(':');
  const r = spawnSync('redis-cli', ['-h', host, '-p', port, ...args], { encoding: 'utf8' });
  if (r.error) throw new Error(`redis-cli: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`redis-cli exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A key prefix of its own for one test run: `e2e:<pid>:<random>:`. */
export function uniquePrefix() {
  return `e2e:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key that starts with prefix. */
export function deleteKeys(prefix) {
  const keys = redis('--scan', '--pattern', `${prefix}*`).split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 100) redis('DEL', ...keys.slice(i, i + 100));
}

/**
 * A redis-server of its own on a free loopback port, for tests that stop
 * and restart Redis (never the shared test Redis). stop() and start()
 * keep the port; close() stops it for good.
 */
export class PrivateRedis {
  constructor() {
    this.port = 0;
    this.child = null;
  }

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    const child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', resolve));
    for (let i = 0; ; i++) {
      const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), 'PING'], { encoding: 'utf8' });
      if (r.stdout?.trim() === 'PONG') return this;
      if (i > 200) throw new Error(`redis-server on ${this.port} did not start`);
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause() {
    this.child.kill('SIGSTOP');
  }

  /** Lets a paused server run again (SIGCONT). */
  resume() {
    this.child.kill('SIGCONT');
  }

  async stop() {
    if (!this.child) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  async close() {
    await this.stop();
  }
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
