// Moderation panel: the pending queue with approve and reject, silence,
// unsilence, kick, block with a duration, unblock, and the room settings.
// Every action goes over the user's own socket; what it did shows in the
// room's activity log.

import { rest } from './api.js';
import { clock, h, replace } from './dom.js';
import { preview } from './render.js';

export function moderation(room) {
  const { perms } = room;
  const panel = h('section.moderation', { 'data-testid': 'moderation' }, h('h3', 'Moderation'));
  if (perms.canModerate) panel.append(pendingQueue(room));
  panel.append(userActions(room));
  if (perms.canManageRoom) panel.append(roomSettings(room));
  return panel;
}

function pendingQueue(room) {
  const list = h('ul.pending', { 'data-testid': 'pending' });
  const pending = new Map();
  const render = () =>
    replace(list, pending.size ? [...pending.values()].map((m) => pendingItem(room, m, () => {
      pending.delete(m.id);
      render();
    })) : h('li.muted', 'nothing waits for approval'));
  room.onPending = (m) => {
    pending.set(m.id, m);
    render();
    room.log(`${m.senderId} sent #${m.seq} for approval`, 'mod', 'hub:pendingMessage');
  };
  render();
  // Published elsewhere (another moderator approved it): off the queue.
  room.onPublished = (id) => {
    if (pending.delete(id)) render();
  };
  if (!moderated(room.spec)) {
    return h('div.block', h('h4', 'Pending'), h('p.muted', 'No role of this hub is moderated.'));
  }
  rest('GET', `/${room.hub.name}/rooms/${encodeURIComponent(room.roomId)}/pending`).then((r) => {
    if (r.ok) for (const m of r.body.messages) pending.set(m.id, m);
    render();
  });
  return h('div.block', h('h4', 'Pending'), list);
}

/** Whether messages of this hub can wait for approval. */
function moderated(spec) {
  return spec.guardrails.globalModeration || (spec.hubRoles ?? []).some((r) => r.moderated);
}

function pendingItem(room, m, done) {
  const reason = h('input', { placeholder: 'reason', size: 10, name: 'reason' });
  const act = async (event, payload, verb) => {
    const ack = await room.call(event, { messageId: m.id, ...payload });
    if (!ack.ok) return room.log(`${verb}: ${ack.error.code} ${ack.error.message}`, 'bad');
    room.log(`${verb} #${m.seq} of ${m.senderId}`, 'mod');
    done();
  };
  return h('li', { dataset: { id: m.id } },
    h('div', h('b', m.senderId), ` #${m.seq} · ${clock(m.timestamp)} · ${m.messageType}: ${preview(m)}`),
    h('button', { type: 'button', 'data-testid': 'approve', on: { click: () => act('hub:approve', {}, 'approved') } }, 'Approve'),
    h('button', { type: 'button', 'data-testid': 'reject', on: { click: () => act('hub:reject', { reason: reason.value || undefined }, 'rejected') } }, 'Reject'),
    reason);
}

function userActions(room) {
  const { perms } = room;
  const user = h('input', { name: 'userId', placeholder: 'user id', list: 'present-users', 'data-testid': 'mod-user' });
  const reason = h('input', { name: 'reason', placeholder: 'reason' });
  const duration = h('input', { name: 'durationSeconds', type: 'number', min: 0, placeholder: 'seconds (empty: until lifted)' });
  const act = (event, label, extra = () => ({})) =>
    h('button', {
      type: 'button', 'data-testid': `mod-${label.toLowerCase()}`,
      on: {
        click: async () => {
          if (!user.value.trim()) return room.log(`${label}: a user id is needed`, 'bad');
          const ack = await room.call(event, { userId: user.value.trim(), ...extra() });
          if (!ack.ok) return room.log(`${label} ${user.value}: ${ack.error.code} ${ack.error.message}`, 'bad');
          room.log(`${label} ${user.value}: done`, 'mod');
        },
      },
    }, label);
  const withReason = () => (reason.value ? { reason: reason.value } : {});
  const buttons = [];
  if (perms.canModerate) {
    buttons.push(act('hub:silence', 'Silence'), act('hub:unsilence', 'Unsilence'),
      act('hub:block', 'Block', () => ({ ...withReason(), ...(duration.value ? { durationSeconds: Number(duration.value) } : {}) })),
      act('hub:unblock', 'Unblock'));
  }
  if (perms.canManageRoom) buttons.push(act('hub:kick', 'Kick', withReason));
  const datalist = h('datalist#present-users', [...room.present.keys()].map((u) => h('option', { value: u })));
  const labelled = (text, input) => h('label.stack', h('span', text), input);
  return h('div.block', h('h4', 'Members'), labelled('user', user), datalist, labelled('reason (kick, block)', reason),
    perms.canModerate ? labelled('block for', duration) : null, h('div.row', buttons));
}

function roomSettings(room) {
  const text = h('textarea', { rows: 3, name: 'settings', placeholder: '{"topic": "..."}', spellcheck: false });
  const err = h('div.form-error');
  const save = async () => {
    err.textContent = '';
    let settings;
    try {
      settings = JSON.parse(text.value || '{}');
    } catch (e) {
      err.textContent = `not valid JSON (${e.message})`;
      return;
    }
    const ack = await room.call('hub:updateRoom', { settings });
    if (!ack.ok) err.textContent = `${ack.error.code}: ${ack.error.message}`;
  };
  return h('div.block', h('h4', 'Room settings'), text, h('button', { type: 'button', on: { click: save } }, 'Save settings'), err);
}
