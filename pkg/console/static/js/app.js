// Entry point: the identity bar (pasted or minted token) and the router
// between the hubs, room and operations views.

import { claims, consolePost, devTokens, loadConfig, setToken, token } from './api.js';
import { h, replace } from './dom.js';
import { hubsView } from './hubs.js';
import { opsView } from './ops.js';
import { roomView } from './room.js';

const views = { hubs: hubsView, room: roomView, ops: opsView };
let current = null; // { dispose }

async function route() {
  const [name, ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const view = views[name] ?? hubsView;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === (views[name] ? name : 'hubs'));
  }
  current?.dispose?.();
  const main = document.getElementById('view');
  replace(main);
  try {
    current = await view(main, args);
  } catch (err) {
    replace(main, h('p.error', `This view failed: ${err.message}`));
    current = null;
  }
}

function identity() {
  const el = document.getElementById('identity');
  const c = claims();
  const who = token()
    ? h('span.who', { 'data-testid': 'who' }, c ? `${c.userId ?? c.sub ?? '?'}${c.roleId ? ` (${c.roleId})` : ''}` : 'token set')
    : h('span.who.none', 'no token');
  const input = h('input', { type: 'password', placeholder: 'paste a token', name: 'token', autocomplete: 'off' });
  const paste = h(
    'form.paste',
    {
      on: {
        submit: (e) => {
          e.preventDefault();
          setToken(input.value);
        },
      },
    },
    input,
    h('button', { type: 'submit' }, 'Use'),
    token() ? h('button', { type: 'button', on: { click: () => setToken('') } }, 'Forget') : null,
  );
  replace(el, who, paste, devTokens() ? mintForm() : null);
}

function mintForm() {
  const user = h('input', { name: 'userId', placeholder: 'user id', size: 10 });
  const role = h('input', { name: 'roleId', placeholder: 'role id', size: 8 });
  const err = h('span.error');
  return h(
    'form.mint',
    {
      title: 'Development tokens (console.devTokens)',
      on: {
        submit: async (e) => {
          e.preventDefault();
          const r = await consolePost('token', { userId: user.value.trim(), roleId: role.value.trim() });
          if (!r.ok) {
            err.textContent = r.body?.error?.message ?? `HTTP ${r.status}`;
            return;
          }
          setToken(r.body.token);
        },
      },
    },
    h('span.tag', 'dev'),
    user,
    role,
    h('button', { type: 'submit' }, 'Mint'),
    err,
  );
}

async function main() {
  await loadConfig();
  identity();
  window.addEventListener('console:token', () => {
    identity();
    route();
  });
  window.addEventListener('hashchange', route);
  await route();
}

main().catch((err) => {
  document.getElementById('view').textContent = `The console failed to start: ${err.message}`;
});
