// Send forms: one per message type the user's role may send, built from
// the content schemas of the hub's OpenAPI document; a form per
// client-to-room custom event; the standard signals (typing is sent while
// typing, recording, away/back, read marks, speak requests).

import { h, replace } from './dom.js';
import { schemaForm } from './forms.js';
import { preview } from './render.js';

const TYPING_REFRESH_MS = 2000;

/** The message types the role may send: allowed types of the hub, less system. */
export function sendableTypes(spec, perms) {
  const all = [...(spec.messageSettings.messageTypes ?? []), ...(spec.messageSettings.customMessageTypes ?? []).map((c) => c.name)]
    .filter((t) => t !== 'system');
  const allowed = perms.allowedMessageTypes ?? [];
  return allowed.length ? all.filter((t) => allowed.includes(t)) : all;
}

export function composer(room) {
  const { spec, perms } = room;
  const parts = [signals(room)];
  if (perms.canSend) parts.unshift(sendForms(room));
  else parts.unshift(h('p.muted', 'This role cannot send messages.'));
  const events = (spec.eventSettings.customEvents ?? []).filter((e) => e.direction === 'clientToRoom');
  if (events.length) parts.push(h('div.events', h('h3', 'Custom events'), events.map((e) => eventForm(room, e))));
  return parts;
}

function sendForms(room) {
  const types = sendableTypes(room.spec, room.perms);
  const select = h('select', { name: 'messageType', 'data-testid': 'type-select' }, types.map((t) => h('option', { value: t }, t)));
  const holder = h('div.form-holder');
  const replyBar = h('div.replybar');
  const ms = room.spec.messageSettings;
  const forwarded = ms.enableForwarded ? h('input', { type: 'checkbox', name: 'forwarded' }) : null;
  let lastTyping = 0;

  room.onReplyChange = () => {
    const m = room.replyTo;
    replace(replyBar, m ? [`↪ replying to ${m.senderId}: ${preview(m)} `,
      h('button.link', { type: 'button', on: { click: () => room.setReply(null) } }, 'cancel')] : []);
  };

  const show = () => {
    const type = select.value;
    const schema = room.schemas[`Content.${type}`] ?? { type: 'object', properties: {} };
    const custom = (ms.customMessageTypes ?? []).find((c) => c.name === type);
    const form = schemaForm(schema, {
      testid: `send-${type}`,
      order: custom ? custom.fields.map((f) => f.name) : [],
      extra: forwarded ? [h('div.field', h('label', 'forwarded'), forwarded)] : [],
      onSubmit: async (content, f) => {
        const payload = { messageType: type, content, clientMessageId: crypto.randomUUID() };
        if (room.replyTo) payload.replyTo = { id: room.replyTo.id, preview: preview(room.replyTo) };
        if (forwarded?.checked) payload.forwarded = true;
        const ack = await room.call('hub:send', payload);
        if (room.spec.eventSettings.enableTypingIndicator && lastTyping) {
          lastTyping = 0;
          room.call('hub:event', { event: 'stopTyping' });
        }
        if (!ack.ok) {
          f.showDetails(ack.error.details, `${ack.error.code}: ${ack.error.message}`);
          return;
        }
        f.reset();
        if (forwarded) forwarded.checked = false;
        room.setReply(null);
        if (ack.message?.status === 'pending') room.log(`message #${ack.message.seq} waits for a moderator`, 'mod');
      },
    });
    if (room.spec.eventSettings.enableTypingIndicator) {
      form.el.addEventListener('input', () => {
        const now = Date.now();
        if (now - lastTyping < TYPING_REFRESH_MS) return;
        lastTyping = now;
        room.call('hub:event', { event: 'typing' });
      });
    }
    replace(holder, form.el);
  };
  select.addEventListener('change', show);
  show();
  return h('div.send', h('div.row', h('h3', 'Send'), select), replyBar, holder);
}

function signals(room) {
  const ev = room.spec.eventSettings;
  const btn = (label, event, testid) =>
    h('button', { type: 'button', 'data-testid': testid, on: { click: () => emit(room, event) } }, label);
  const items = [];
  if (ev.enableRecordingIndicator) items.push(btn('Recording', 'recording', 'recording'), btn('Stop recording', 'stopRecording', 'stop-recording'));
  if (ev.enablePresence) items.push(btn('Away', 'away', 'away'), btn('Back', 'back', 'back'));
  if (ev.enableReadReceipts) {
    items.push(h('button', { type: 'button', 'data-testid': 'mark-read', on: { click: () => markRead(room) } }, 'Mark read'));
  }
  if (room.spec.hubLogic?.stateScript) {
    items.push(h('button', { type: 'button', on: { click: () => room.call('hub:requestState', {}) } }, 'Request state'));
  }
  // Shown while the user is silenced (at join, or later by a moderator).
  const speak = h('button', { type: 'button', 'data-testid': 'ask-speak', hidden: !room.silenced, on: { click: () => askToSpeak(room) } }, 'Ask to speak');
  room.onSilenced = (silenced) => {
    speak.hidden = !silenced;
  };
  items.push(speak);
  return h('div.signals', items);
}

async function askToSpeak(room) {
  const ack = await room.call('hub:requestSpeak', {});
  room.log(ack.ok ? 'asked the moderators to speak' : `ask to speak: ${ack.error.code} ${ack.error.message}`, ack.ok ? 'mod' : 'bad');
}

async function emit(room, event, data) {
  const ack = await room.call('hub:event', { event, data });
  if (!ack.ok) room.log(`${event}: ${ack.error.code} ${ack.error.message}`, 'bad');
}

function markRead(room) {
  const newest = [...room.messages.values()].sort((a, b) => b.seq - a.seq)[0];
  if (newest) emit(room, 'messageRead', { lastReadTimestamp: newest.timestamp });
}

function eventForm(room, e) {
  const schema = { type: 'object', properties: { data: { description: e.description || 'any JSON value' } } };
  const f = schemaForm(schema, {
    submitLabel: `Emit ${e.name}`,
    testid: `event-${e.name}`,
    onSubmit: async (value, form) => {
      const ack = await room.call('hub:event', { event: e.name, data: value.data });
      if (!ack.ok) return form.showDetails(ack.error.details, `${ack.error.code}: ${ack.error.message}`);
      form.reset();
    },
  });
  return h('div.event', h('b', e.name), e.ephemeral ? h('span.tag', 'ephemeral') : null, f.el);
}
