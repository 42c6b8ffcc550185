// Hubs and nodes of the several-node suites: an open hub on the features
// rooms (every user may join) and nodes sharing one Redis and, optionally,
// one PostgreSQL message schema.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { FEATURES, startFeatures } from './features.mjs';

/** The skip reason of a suite that needs the test PostgreSQL and Redis (false when both are set). */
export const NEEDS_PG_AND_REDIS =
  process.env.HUBD_TEST_DATABASE_URL && process.env.HUBD_TEST_REDIS_ADDR
    ? false
    : 'HUBD_TEST_DATABASE_URL and HUBD_TEST_REDIS_ADDR are needed (scripts/test.sh starts PostgreSQL and Redis)';

/**
 * The spec of an open hub on the features rooms: every user of a
 * chatEnabled room is a `role` that reads and sends `messageTypes`.
 * Options: description, role (member), messageTypes (['text']),
 * dataObjectName, historyLimit (history on when set), presence, and
 * guardrails added to messageRateLimit 100000.
 */
export function openHubSpec(name, opts = {}) {
  const {
    description = 'An open hub of the several-node suites.',
    role = 'member',
    messageTypes = ['text'],
    dataObjectName = null,
    historyLimit = null,
    presence = false,
    guardrails = {},
  } = opts;
  let spec = `hubBasics:
  name: ${name}
  description: ${description}
roomSettings:
  roomDataObject: chatRoom
  roomEligibility: chatRoom.chatEnabled == true
  authScripts:
    - name: everyone
      script: user.userId != ""
      hubRole: ${role}
hubRoles:
  - name: ${role}
    canRead: true
    canSend: true
messageSettings:
`;
  if (dataObjectName) spec += `  dataObjectName: ${dataObjectName}\n`;
  spec += `  messageTypes:\n${messageTypes.map((t) => `    - ${t}\n`).join('')}`;
  if (historyLimit !== null) spec += `historySettings:\n  historyEnabled: true\n  historyLimit: ${historyLimit}\n`;
  if (presence) spec += `eventSettings:\n  enablePresence: true\n`;
  const limits = { ...guardrails, messageRateLimit: guardrails.messageRateLimit ?? 100000 };
  spec += `guardrails:\n${Object.entries(limits).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`;
  return spec;
}

/** Writes <hubs>/<name>.yaml with openHubSpec(name, opts). */
export async function writeOpenHub(hubs, name, opts = {}) {
  await writeFile(path.join(hubs, `${name}.yaml`), openHubSpec(name, opts));
}

/**
 * Starts n nodes serving hubs (on the features records and lib unless
 * records / lib are given), sharing the Redis at redisAddr (keys under
 * redisPrefix when set) and, when pgSchema is set, that PostgreSQL message
 * schema (else each has its embedded store). env adds to their environment.
 */
export async function startNodes(n, { hubs, records = FEATURES.records, lib, redisAddr, redisPrefix = null, pgSchema = null, env = {} }) {
  const shared = { HUBD_REDIS__ADDR: redisAddr };
  if (redisPrefix) shared.HUBD_REDIS__PREFIX = redisPrefix;
  if (pgSchema) {
    Object.assign(shared, {
      HUBD_STORE: 'postgres',
      HUBD_POSTGRES__DSN: process.env.HUBD_TEST_DATABASE_URL,
      HUBD_POSTGRES__SCHEMA: pgSchema,
    });
  }
  Object.assign(shared, env);
  const nodes = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startFeatures({ store: 'embedded', hubs, records, ...(lib ? { lib } : {}), env: shared }));
  }
  return nodes;
}
