// Hubs view: every loaded hub's spec at a glance, the last reload's result
// and errors, a reload button and links to the hub's documents.

import { consoleGet, consolePost, publicBase } from './api.js';
import { clock, h, replace } from './dom.js';

// Role permissions and their column titles.
const PERMS = [
  ['canRead', 'read'], ['canSend', 'send'], ['moderated', 'moderated'],
  ['canModerate', 'moderate'], ['canDeleteAny', 'delete any'], ['canManageRoom', 'manage'],
];
const DIRECTIONS = ['clientToRoom', 'serverToRoom', 'serverToClient'];

export async function hubsView(main) {
  const reloadBox = h('section.card.reload', { 'data-testid': 'reload' });
  const list = h('div.hubs');
  replace(main, h('h1', 'Hubs'), reloadBox, list);

  async function refresh(result) {
    const data = await consoleGet('hubs');
    renderReload(reloadBox, result ?? data.reload, refresh);
    replace(list, data.hubs.length ? data.hubs.map(hubCard) : h('p.muted', 'No hub is loaded.'));
  }
  await refresh();
  return {};
}

function renderReload(box, r, refresh) {
  const button = h('button', { type: 'button', 'data-testid': 'reload-button' }, 'Reload hubs');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const res = await consolePost('reload');
    await refresh(res.body?.at ? res.body : null);
  });
  const status = !r
    ? h('span.muted', 'no reload recorded')
    : h(
        `span.${r.ok ? 'ok' : 'bad'}`,
        { 'data-testid': 'reload-status' },
        `${r.initial ? 'Start-up load' : 'Last reload'} at ${clock(r.at)}: ${r.ok ? 'succeeded' : `failed, ${r.errors.length} error(s); the previous hubs keep running`}`,
      );
  const errors = r && !r.ok ? h('ul.errors', { 'data-testid': 'reload-errors' }, r.errors.map((e) => h('li', e))) : null;
  replace(box, h('div.row', status, button), errors);
}

function hubCard(hub) {
  const s = hub.spec;
  return h(
    'section.card.hub',
    { 'data-hub': hub.name },
    h(
      'div.row',
      h('h2', hub.name),
      h('span.muted', hub.namespace),
      h('span.spacer'),
      h('a', { href: publicBase() + hub.openapi, target: '_blank' }, 'openapi.json'),
      hub.asyncapi ? h('a', { href: publicBase() + hub.asyncapi, target: '_blank' }, 'asyncapi.json') : null,
      h('a.button', { href: `#/room/${encodeURIComponent(hub.name)}` }, 'Open a room'),
    ),
    s.hubBasics.description ? h('p', s.hubBasics.description) : null,
    h('p.muted.small', `${hub.file} · sha256 ${hub.hash.slice(0, 12)}`),
    h('div.grid', rooms(s), roles(s), messages(s), events(s), guardrails(s), logic(s)),
  );
}

function section(title, ...body) {
  return h('div.block', { dataset: { block: title } }, h('h3', title), ...body);
}

function kv(pairs) {
  return h(
    'dl',
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length))
      .flatMap(([k, v]) => [h('dt', k), h('dd', Array.isArray(v) ? v.join(', ') : String(v))]),
  );
}

function rooms(s) {
  const r = s.roomSettings;
  return section(
    'Rooms and authorization',
    kv([
      ['DataObject', r.roomDataObject],
      ['eligibility', r.roomEligibility],
      ['absoluteRoles', r.absoluteRoles],
      ['checkRoles', r.checkRoles],
      ['checkScript', r.checkScript],
    ]),
    (r.authSources ?? []).length
      ? h('ol.layers', r.authSources.map((a) => h('li', h('b', a.name), ` ${a.sourceObject}.${a.userField} → ${a.roomField}`,
          a.condition ? h('code', ` if ${a.condition}`) : null, ` ⇒ ${a.hubRole || '(default role)'}`)))
      : null,
    (r.authScripts ?? []).length
      ? h('ol.layers', r.authScripts.map((a) => h('li', h('b', a.name), ' script ', h('code', a.script), ` ⇒ ${a.hubRole || '(default role)'}`)))
      : null,
  );
}

function roles(s) {
  return section(
    'Roles',
    h(
      'table.roles',
      h('tr', h('th', 'role'), PERMS.map(([p, t]) => h('th', { title: p }, t)), h('th', 'types')),
      (s.hubRoles ?? []).map((r) =>
        h('tr', h('td', r.name), PERMS.map(([p]) => h('td', r[p] ? '✓' : '')), h('td', r.allowedMessageTypes ? r.allowedMessageTypes.split(',').map((t) => t.trim()).join(', ') : 'all')),
      ),
    ),
  );
}

function messages(s) {
  const m = s.messageSettings;
  const flags = ['enableReplyTo', 'enableReaction', 'enableForwarded'].filter((f) => m[f]);
  return section(
    'Message types',
    h('p', (m.messageTypes ?? []).join(', ') || 'no built-in type'),
    flags.length ? h('p.muted', flags.join(' · ')) : null,
    (m.customMessageTypes ?? []).map((ct) =>
      h('div.ctype', h('b', ct.name), ct.description ? h('span.muted', ` ${ct.description}`) : null,
        h('ul', ct.fields.map((f) => h('li', `${f.name}: ${f.fieldType}${f.required ? ' (required)' : ''}`,
          f.enumValues ? ` [${f.enumValues}]` : '', f.defaultValue ? ` = ${f.defaultValue}` : '')))),
    ),
  );
}

function events(s) {
  const e = s.eventSettings;
  const std = ['enableTypingIndicator', 'enableRecordingIndicator', 'enableReadReceipts', 'enableDeliveryReceipts',
    'enablePresence', 'autoBridgeDataEvents'].filter((f) => e[f]);
  const custom = e.customEvents ?? [];
  return section(
    'Events',
    h('p', std.join(' · ') || 'no standard event'),
    DIRECTIONS.map((d) => {
      const list = custom.filter((c) => c.direction === d);
      return list.length ? h('p', h('b', `${d}: `), list.map((c) => `${c.name}${c.ephemeral ? ' (ephemeral)' : ''}`).join(', ')) : null;
    }),
    (e.kafkaEvents ?? []).length ? h('p', h('b', 'kafka: '), e.kafkaEvents.map((k) => `${k.name} ← ${k.topic}`).join(', ')) : null,
  );
}

function guardrails(s) {
  const g = s.guardrails;
  const hs = s.historySettings;
  return section(
    'Guardrails',
    kv([
      ['maxUsersPerRoom', g.maxUsersPerRoom || 'unlimited'],
      ['maxRoomsPerUser', g.maxRoomsPerUser || 'unlimited'],
      ['messageRateLimit', g.messageRateLimit ? `${g.messageRateLimit}/min` : 'off'],
      ['maxMessageSize', `${g.maxMessageSize} bytes`],
      ['connectionTimeout', g.connectionTimeout ? `${g.connectionTimeout} ms` : 'off'],
      ['authCacheTTL', g.authCacheTTL ? `${g.authCacheTTL} s` : 'off'],
      ['globalModeration', g.globalModeration ? 'on' : ''],
      ['defaultSilenced', g.defaultSilenced ? 'on' : ''],
      ['history', hs.historyEnabled ? `last ${hs.historyLimit} on join` : 'off'],
    ]),
  );
}

function logic(s) {
  const l = s.hubLogic ?? {};
  const items = [
    l.stateScript ? h('li', 'stateScript') : null,
    (l.messageHandlers ?? []).map((m) => h('li', `handler for ${m.messageType}`)),
    (l.scheduledActions ?? []).map((a) => h('li', `${a.name} every ${a.intervalMs} ms${a.keepAlive ? ' (keepAlive)' : ''}`)),
  ].flat().filter(Boolean);
  return section('Logic hooks', items.length ? h('ul', items) : h('p.muted', 'none'));
}
