// The console's calls: its own JSON endpoints under /-/console/api, the
// hub REST API (handed to the public listener unchanged, with the user's
// token) and the public URL the Socket.IO client connects to.

const base = new URL('..', import.meta.url).pathname.replace(/\/$/, ''); // /-/console

let config = null;

/** The console configuration (public URL, socket path, dev tokens). */
export async function loadConfig() {
  if (!config) config = await consoleGet('config');
  return config;
}

/** Base URL of the public listener, as the browser reaches it. */
export function publicBase() {
  if (config.publicURL) return config.publicURL;
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  return `${location.protocol}//${host}:${config.publicPort}`;
}

/** The Socket.IO handshake path of the public listener. */
export function socketPath() {
  return config.socketPath;
}

/** Development tokens can be minted. */
export function devTokens() {
  return config.devTokens;
}

// The token lives in this tab only (sessionStorage).
const TOKEN_KEY = 'hubd.console.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent('console:token'));
}

/** The claims of the current token (not verified: for display). */
export function claims() {
  const t = token();
  try {
    const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

async function decode(res) {
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: { code: `HTTP_${res.status}`, message: text.trim() } };
  }
  return { status: res.status, ok: res.ok, body };
}

/** GET /-/console/api/<name>. */
export async function consoleGet(name) {
  const r = await decode(await fetch(`${base}/api/${name}`, { cache: 'no-store' }));
  if (!r.ok) throw new Error(r.body?.error?.message ?? `HTTP ${r.status}`);
  return r.body;
}

/** POST /-/console/api/<name> with a JSON body; resolves { status, ok, body }. */
export async function consolePost(name, body) {
  return decode(
    await fetch(`${base}/api/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Hubd-Console': '1' },
      body: JSON.stringify(body ?? {}),
    }),
  );
}

/**
 * A hub REST call with the user's token: method, path below the public
 * root (e.g. /chat/rooms/r1/pending). Resolves { status, ok, body }.
 */
export async function rest(method, path, body) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}/rest${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  return decode(res);
}
