// Hubs and nodes of the several-node suites: an open hub on the features
// rooms (every user may join) and nodes sharing one Redis and, optionally,
// one PostgreSQL message schema.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { FEATURES, startFeatures } from './features.mjs';

/**
 * Writes <hubs>/<name>.yaml: text messages, every user a member of any
 * chatEnabled room; presence and history on request.
 */
export async function writeOpenHub(hubs, name, { presence = false, historyLimit = null } = {}) {
  let spec = `hubBasics:
  name: ${name}
  description: An open hub of the several-node suites.
roomSettings:
  roomDataObject: chatRoom
  roomEligibility: chatRoom.chatEnabled == true
  authScripts:
    - name: everyone
      script: user.userId != ""
      hubRole: member
hubRoles:
  - name: member
    canRead: true
    canSend: true
messageSettings:
  messageTypes:
    - text
`;
  if (historyLimit !== null) spec += `historySettings:\n  historyEnabled: true\n  historyLimit: ${historyLimit}\n`;
  if (presence) spec += `eventSettings:\n  enablePresence: true\n`;
  spec += `guardrails:\n  messageRateLimit: 100000\n`;
  await writeFile(path.join(hubs, `${name}.yaml`), spec);
}

/**
 * Starts n nodes serving hubs on the features records, sharing the Redis
 * at redisAddr and, when pgSchema is set, that PostgreSQL message schema
 * (else each has its embedded store). env adds to their environment.
 */
export async function startNodes(n, { hubs, redisAddr, pgSchema = null, env = {} }) {
  const shared = { HUBD_REDIS__ADDR: redisAddr, ...env };
  if (pgSchema) {
    Object.assign(shared, {
      HUBD_STORE: 'postgres',
      HUBD_POSTGRES__DSN: process.env.HUBD_TEST_DATABASE_URL,
      HUBD_POSTGRES__SCHEMA: pgSchema,
    });
  }
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await startFeatures({ store: 'embedded', hubs, records: FEATURES.records, env: shared }));
  return nodes;
}
