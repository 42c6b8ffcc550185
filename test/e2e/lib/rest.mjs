// REST client for the e2e suites. Every exchange is recorded, and
// validateExchanges() checks them all against the OpenAPI document the
// running daemon serves for the hub (GET /{hub}/openapi.json), with the Go
// validator of pkg/rest/apitest (test/e2e/tools/apicheck).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');

/** A REST client for one hub of one daemon. */
export class RestClient {
  /**
   * @param {import('./harness.mjs').Daemon} daemon
   * @param {string} hub hub name
   */
  constructor(daemon, hub) {
    this.daemon = daemon;
    this.hub = hub;
    this.exchanges = [];
  }

  /**
   * Calls method on /{hub}{route} and resolves with { status, body,
   * headers }. token goes into the Authorization header (query: true puts
   * it in ?token= instead); body is sent as JSON.
   */
  async call(method, route, { token, body, query = false, headers = {} } = {}) {
    const pathOnly = `/${this.hub}${route}`;
    let url = this.daemon.url + pathOnly;
    const h = { ...headers };
    if (token !== undefined && !query) h.authorization = `Bearer ${token}`;
    if (token !== undefined && query) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    let payload;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(url, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      assert.fail(`${method} ${pathOnly}: response is not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    this.exchanges.push({
      method,
      path: pathOnly.split('?')[0],
      status: res.status,
      body: parsed,
      ...(body !== undefined ? { request: body } : {}),
    });
    return { status: res.status, body: parsed, headers: res.headers };
  }

  get(route, opts) {
    return this.call('GET', route, opts);
  }

  post(route, body, opts = {}) {
    return this.call('POST', route, { ...opts, body });
  }

  patch(route, body, opts = {}) {
    return this.call('PATCH', route, { ...opts, body });
  }

  delete(route, opts) {
    return this.call('DELETE', route, opts);
  }

  /** The hub's OpenAPI document as the daemon serves it (no token). */
  async openapi() {
    const res = await fetch(`${this.daemon.url}/${this.hub}/openapi.json`);
    assert.equal(res.status, 200, `GET /${this.hub}/openapi.json`);
    return res.json();
  }

  /**
   * Validates every recorded exchange against the daemon's document.
   * Resolves with the validator's summary line; rejects listing every
   * mismatch.
   */
  async validateExchanges() {
    assert.ok(this.exchanges.length > 0, 'no REST exchanges were recorded');
    const document = await this.openapi();
    const input = JSON.stringify({ document, exchanges: this.exchanges });
    const { code, stdout, stderr } = await runApicheck(input);
    if (code !== 0) {
      assert.fail(`REST traffic does not match /${this.hub}/openapi.json (exit ${code}):\n${stdout}${stderr}`);
    }
    return stdout.trim().split('\n').pop();
  }
}

/**
 * Runs the apicheck tool: HUBD_APICHECK (scripts/test.sh builds
 * bin/apicheck), else `go run` from the repository.
 */
async function runApicheck(input) {
  const bin = process.env.HUBD_APICHECK;
  const [cmd, args, cwd] = bin
    ? [path.resolve(bin), [], undefined]
    : ['go', ['run', './test/e2e/tools/apicheck'], repoRoot];
  const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c) => {
    stderr += c;
  });
  child.stdin.end(input);
  const [code] = await once(child, 'exit');
  return { code, stdout, stderr };
}
