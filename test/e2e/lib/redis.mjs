// The test Redis (HUBD_TEST_REDIS_ADDR, started by scripts/test.sh) through
// redis-cli.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

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
