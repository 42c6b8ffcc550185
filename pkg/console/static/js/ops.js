// Operations glance: connections, sockets, rooms and members per hub,
// messages and errors per minute by code, read from the daemon's metrics.

import { clock, h, replace } from './dom.js';
import { consoleGet } from './api.js';

const REFRESH_MS = 5000;

export async function opsView(main) {
  const body = h('div');
  replace(main, h('h1', 'Operations'), body);
  const refresh = async () => {
    try {
      render(body, await consoleGet('ops'));
    } catch (err) {
      replace(body, h('p.error', err.message));
    }
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return { dispose: () => clearInterval(timer) };
}

function rate(v) {
  return v === undefined || v === null ? '–' : v.toFixed(1);
}

function render(el, d) {
  const window = d.windowSeconds ? `per minute over the last ${Math.round(d.windowSeconds)} s` : 'per minute: needs a second sample';
  replace(el,
    h('p', h('b', { 'data-testid': 'connections' }, String(d.connections)), ' Engine.IO connections · ',
      h('span.muted', `${window} · ${clock(d.at)}`)),
    h('table.ops', { 'data-testid': 'ops' },
      h('tr', ['hub', 'sockets', 'rooms', 'members', 'messages', 'msgs/min', 'errors by code (total, per min)'].map((t) => h('th', t))),
      d.hubs.map((r) => h('tr', { dataset: { hub: r.hub } },
        h('td', r.hub), h('td', String(r.sockets)), h('td', String(r.rooms)), h('td', String(r.members)),
        h('td', String(r.messages)), h('td', rate(r.messagesPerMinute)),
        h('td', Object.keys(r.errors).length
          ? Object.entries(r.errors).sort().map(([code, n]) =>
              h('span.chip', { dataset: { code } }, `${code} ${n} (${rate(r.errorsPerMinute?.[code])}/min)`))
          : h('span.muted', 'none'))))));
}
