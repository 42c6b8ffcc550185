// Names and ids of test/e2e/fixtures/features: the gate, ops, webinar and
// guard hubs.

import path from 'node:path';

import { connect, emitWithAck, FIXTURES, makeToken, startDaemon, waitForEvent } from './harness.mjs';
import { USERS } from './fixtures.mjs';

/** Directories of the features fixtures. */
export const FEATURES = Object.freeze({
  hubs: path.join(FIXTURES, 'features', 'hubs'),
  records: path.join(FIXTURES, 'features', 'records'),
  lib: path.join(FIXTURES, 'lib'),
});

/** Users: the fixture users plus dave (a gateMuted record in general). */
export const PEOPLE = Object.freeze({
  ...USERS,
  dave: { userId: 'da7e0000-0000-4000-8000-000000000006', roleId: 'user' },
  erin: { userId: 'e4140000-0000-4000-8000-000000000007', roleId: 'user' },
  frank: { userId: 'f4a40000-0000-4000-8000-000000000008', roleId: 'user' },
  // a backend calling service routes
  service: { userId: 'svc00000-0000-4000-8000-000000000009', roleId: 'service' },
});

/** Rooms of features/records/chatRoom.json: the fixture rooms and room1..room12. */
export const FROOMS = Object.freeze({
  general: '0b5c1a9e-0001-4000-8000-000000000001',
  archive: '0b5c1a9e-0002-4000-8000-000000000002',
  random: '0b5c1a9e-0003-4000-8000-000000000003',
  missing: '0b5c1a9e-0999-4000-8000-000000000999',
  ...Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => {
      const n = String(i + 1).padStart(2, '0');
      return [`room${i + 1}`, `0b5c1a9e-01${n}-4000-8000-0000000001${n}`];
    }),
  ),
});

/** A token for a features user, with claims overriding or added. */
export function tokenOf(user, claims = {}, opts = {}) {
  const u = PEOPLE[user];
  if (!u) throw new Error(`unknown user ${user}`);
  return makeToken({ ...u, ...claims }, opts);
}

/** Starts a daemon serving the features hubs. */
export function startFeatures(opts = {}) {
  return startDaemon({ hubs: FEATURES.hubs, records: FEATURES.records, lib: FEATURES.lib, ...opts });
}

/**
 * Connects user (with extra token claims) to /hub/<hub> over transport.
 * Resolves with the socket.
 */
export async function connectAs(daemon, hub, user, { transport = 'websocket', claims = {}, token } = {}) {
  return connect(daemon.url, `/hub/${hub}`, { transport, token: token ?? tokenOf(user, claims) });
}

/**
 * Connects user and joins roomId; asserts the join succeeded and waits for
 * hub:joined. Resolves with { socket, ack }.
 */
export async function joinAs(daemon, hub, user, roomId, opts = {}) {
  const socket = opts.socket ?? (await connectAs(daemon, hub, user, opts));
  const ack = await emitWithAck(socket, 'hub:join', { roomId, ...(opts.since ? { since: opts.since } : {}) });
  if (!ack.ok) throw new Error(`${user} join ${hub}/${roomId}: ${JSON.stringify(ack)}`);
  await waitForEvent(socket, 'hub:joined', (d) => d.roomId === roomId);
  return { socket, ack };
}

/**
 * Emits event and asserts that the ack fails with code and that a
 * matching hub:error follows. Resolves with the ack's error object.
 */
export async function refusedWith(socket, event, payload, code) {
  const mark = socket.received.length;
  const ack = await emitWithAck(socket, event, payload);
  if (ack.ok !== false || ack.error?.code !== code) {
    throw new Error(`${event}: expected ${code}, got ${JSON.stringify(ack)}`);
  }
  await waitForEvent(socket, 'hub:error', (d) => d.code === code && d.event === event, undefined, { after: mark });
  return ack.error;
}

/** Sends a text message and returns the acked message (asserts ok). */
export async function sendText(socket, roomId, body, extra = {}) {
  const ack = await emitWithAck(socket, 'hub:send', { roomId, messageType: 'text', content: { body }, ...extra });
  if (!ack.ok) throw new Error(`send ${JSON.stringify(body)}: ${JSON.stringify(ack)}`);
  return ack.message;
}

