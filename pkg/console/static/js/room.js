// Room view: join a room of a hub as the token's user over the public
// Socket.IO endpoint and see it live: messages of every type, replies,
// reactions, edits and deletions, indicators, presence, receipts, history
// paging, custom events; the send forms (composer.js) and moderation
// (moderation.js) for what the user's role allows.

import { io } from '../vendor/socket.io.esm.min.js';
import { consoleGet, publicBase, rest, socketPath, token } from './api.js';
import { composer } from './composer.js';
import { clock, h, replace } from './dom.js';
import { schemaForm } from './forms.js';
import { moderation } from './moderation.js';
import { preview, renderContent } from './render.js';

const ACK_TIMEOUT_MS = 10_000;
const LOG_MAX = 200;
const REACTIONS = ['❤️', '😂', '🎉'];

export async function roomView(main, [hubName, roomId]) {
  const data = await consoleGet('hubs');
  const hub = data.hubs.find((x) => x.name === hubName);
  main.append(picker(data.hubs, hubName, roomId));
  if (!token()) {
    main.append(h('p.muted', 'Paste a token (or mint one) to join a room as its user.'));
    return {};
  }
  if (!hub || !roomId) return {};
  const room = new Room(main, hub, roomId);
  await room.start();
  return { dispose: () => room.close() };
}

function picker(hubs, hubName, roomId) {
  const sel = h('select', { name: 'hub' }, hubs.map((x) => h('option', { value: x.name, selected: x.name === hubName }, x.name)));
  const input = h('input', { name: 'roomId', placeholder: 'room id', value: roomId ?? '', size: 40 });
  return h('form.card.picker', {
    on: {
      submit: (e) => {
        e.preventDefault();
        location.hash = `#/room/${encodeURIComponent(sel.value)}/${encodeURIComponent(input.value.trim())}`;
      },
    },
  }, h('label', 'Hub ', sel), h('label', ' Room ', input), h('button', { type: 'submit' }, 'Join'));
}

class Room {
  constructor(main, hub, roomId) {
    this.main = main;
    this.hub = hub;
    this.spec = hub.spec;
    this.roomId = roomId;
    this.me = null;
    this.perms = null;
    this.messages = new Map(); // id -> message
    this.els = new Map(); // id -> element
    this.readMarks = new Map(); // userId -> ISO time
    this.deliveries = new Map(); // messageId -> Set(userId)
    this.typing = new Set();
    this.recording = new Set();
    this.present = new Map(); // userId -> status
    this.replyTo = null;
  }

  async start() {
    this.status = h('div.status', { 'data-testid': 'room-status' }, 'connecting…');
    this.list = h('div.messages', { 'data-testid': 'messages' });
    this.older = h('button.older', { type: 'button', on: { click: () => this.loadOlder() } }, 'Load older messages');
    this.indicator = h('div.indicator', { 'data-testid': 'indicator' });
    this.editBox = h('div.editbox');
    this.presenceEl = h('ul.presence', { 'data-testid': 'presence' });
    this.logEl = h('ol.log', { 'data-testid': 'log' });
    this.side = h('aside.side');
    this.compose = h('div.compose');
    replace(this.main.appendChild(h('div.room')),
      h('div.timeline', this.status, h('div.scroll', this.older, this.list), this.indicator, this.editBox, this.compose),
      this.side);
    this.side.append(h('h3', 'Present'), this.presenceEl, h('h3', 'Activity'), this.logEl);

    const doc = await rest('GET', `/${this.hub.name}/openapi.json`);
    this.schemas = doc.ok ? doc.body.components.schemas : {};
    this.connect();
  }

  connect() {
    const s = io(`${publicBase()}/hub/${this.hub.name}`, {
      path: socketPath(), auth: { token: token() }, reconnection: true, forceNew: true,
    });
    this.socket = s;
    s.on('connect', () => this.join());
    s.on('connect_error', (err) => this.setStatus(`connect error: ${err.message}`, 'bad'));
    s.on('disconnect', (reason) => {
      this.status.dataset.joined = 'false';
      this.setStatus(`disconnected: ${reason}${s.active ? ' (reconnecting)' : ''}`, 'bad');
    });
    s.onAny((event, payload) => this.dispatch(event, payload ?? {}));
  }

  close() {
    this.socket?.disconnect();
  }

  /** Emits with an ack; resolves the ack, or a TIMEOUT error ack. */
  async call(event, payload) {
    try {
      return await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, { roomId: this.roomId, ...payload });
    } catch {
      return { ok: false, error: { code: 'TIMEOUT', message: `no answer to ${event} within ${ACK_TIMEOUT_MS / 1000} s` } };
    }
  }

  async join() {
    const ack = await this.call('hub:join', {});
    if (!ack.ok) {
      this.setStatus(`join refused: ${ack.error.code} ${ack.error.message}`, 'bad');
      return;
    }
    this.me = claimUser();
    this.perms = ack.permissions;
    this.silenced = ack.silenced;
    const p = Object.entries(ack.permissions).filter(([, v]) => v === true).map(([k]) => k);
    this.setStatus(`${this.me} joined ${this.roomId} as ${ack.hubRole ?? '(default role)'} · ${p.join(', ')}${ack.silenced ? ' · silenced' : ''}`, 'ok');
    this.status.dataset.joined = 'true';
    replace(this.compose, composer(this));
    // A rejoin (after a reconnect) rebuilds the panel with the new permissions.
    this.modPanel?.remove();
    this.modPanel = ack.permissions.canModerate || ack.permissions.canManageRoom ? moderation(this) : null;
    if (this.modPanel) this.side.prepend(this.modPanel);
    await this.loadPresence();
    await this.loadReceipts();
  }

  setStatus(text, kind) {
    this.status.textContent = text;
    this.status.className = `status ${kind}`;
  }

  /** GET /{hub}/rooms/{roomId}/<what> when the spec turns it on; the body or null. */
  async roomGet(what, enabled) {
    if (!enabled) return null;
    const r = await rest('GET', `/${this.hub.name}/rooms/${encodeURIComponent(this.roomId)}/${what}`);
    return r.ok ? r.body : null;
  }

  async loadPresence() {
    const body = await this.roomGet('presence', this.spec.eventSettings.enablePresence);
    if (!body) return;
    this.present = new Map(body.users.map((u) => [u.userId, u.status]));
    this.renderPresence();
  }

  async loadReceipts() {
    const body = await this.roomGet('receipts', this.spec.eventSettings.enableReadReceipts);
    if (!body) return;
    for (const x of body.receipts) this.readMarks.set(x.userId, x.lastReadTimestamp);
    this.rerenderAll();
  }

  async loadOlder() {
    const first = [...this.messages.values()].sort(bySeq)[0];
    const ack = await this.call('hub:loadHistory', first ? { before: first.id } : {});
    if (!ack.ok) return this.log(`history: ${ack.error.code} ${ack.error.message}`, 'bad');
    if (!ack.messages.length) {
      this.older.disabled = true;
      this.older.textContent = 'No older messages';
    }
    for (const m of ack.messages) this.upsert(m);
  }

  dispatch(event, p) {
    if (p.roomId !== undefined && p.roomId !== this.roomId) return;
    const fn = serverEvents[event];
    if (fn) fn(this, p);
    else if (!event.startsWith('hub:')) this.customEvent(event, p);
  }

  /** A custom or Kafka event: logged; a stored one joins the timeline as history shows it. */
  customEvent(event, p) {
    if (p.messageId) {
      this.upsert({
        id: p.messageId, roomId: this.roomId, seq: p.seq, senderId: p.userId ?? 'system', messageType: event,
        content: { data: p.data ?? null }, timestamp: new Date().toISOString(), status: 'published',
      });
    }
    this.log(`${event} from ${p.userId ?? 'server'}: ${JSON.stringify(p.data ?? null)}`, 'event', event);
  }

  // --- messages

  upsert(m) {
    if (m.status === 'deleted') return this.remove(m.id, null);
    this.messages.set(m.id, m);
    const el = this.renderMessage(m);
    const old = this.els.get(m.id);
    this.els.set(m.id, el);
    if (old) return old.replaceWith(el);
    const after = [...this.messages.values()].filter((x) => bySeq(x, m) > 0 && this.els.get(x.id)?.isConnected)
      .sort(bySeq)[0];
    if (after) this.els.get(after.id).before(el);
    else {
      this.list.append(el);
      el.scrollIntoView({ block: 'nearest' });
    }
  }

  remove(id, by) {
    const el = this.els.get(id);
    if (!el) return;
    const m = this.messages.get(id);
    el.replaceWith(h('div.msg.deleted', { dataset: { id } }, `message ${m ? `#${m.seq} ` : ''}deleted${by ? ` by ${by}` : ''}`));
    this.messages.delete(id);
    this.els.delete(id);
  }

  rerenderAll() {
    for (const m of this.messages.values()) this.upsert(m);
  }

  renderMessage(m) {
    const mine = m.senderId === this.me;
    const reply = m.replyTo
      ? h('div.reply', '↪ ', h('b', this.messages.get(m.replyTo.id)?.senderId ?? ''), ' ',
          m.replyTo.preview ?? (this.messages.has(m.replyTo.id) ? preview(this.messages.get(m.replyTo.id)) : m.replyTo.id))
      : null;
    return h(`div.msg${mine ? '.mine' : ''}`, { dataset: { id: m.id, type: m.messageType, sender: m.senderId } },
      h('div.meta', h('b', m.senderId), ` #${m.seq} · ${clock(m.timestamp)}`,
        m.forwarded ? h('span.tag', 'forwarded') : null,
        m.editedAt ? h('span.tag', 'edited') : null,
        m.status !== 'published' ? h('span.tag.warn', m.status) : null,
        h('span.tag.type', m.messageType)),
      reply,
      renderContent(m, this.spec),
      this.reactions(m),
      this.receipts(m),
      this.actions(m, mine));
  }

  reactions(m) {
    if (!this.spec.messageSettings.enableReaction || !m.reaction?.length) return null;
    const counts = new Map();
    for (const r of m.reaction) counts.set(r.emoji, [...(counts.get(r.emoji) ?? []), r.userId]);
    return h('div.reactions', [...counts].map(([emoji, users]) =>
      h('button.chip', { type: 'button', title: users.join(', '), on: { click: () => this.react(m, emoji) } }, `${emoji} ${users.length}`)));
  }

  receipts(m) {
    const read = [...this.readMarks].filter(([u, t]) => u !== m.senderId && new Date(t) >= new Date(m.timestamp)).map(([u]) => u);
    const delivered = [...(this.deliveries.get(m.id) ?? [])].filter((u) => !read.includes(u));
    if (!read.length && !delivered.length) return null;
    return h('div.receipts', { 'data-testid': 'receipts' },
      delivered.length ? `✓ delivered to ${delivered.join(', ')} ` : '', read.length ? `✓✓ read by ${read.join(', ')}` : '');
  }

  actions(m, mine) {
    const ms = this.spec.messageSettings;
    const btn = (label, fn, title) => h('button.link', { type: 'button', title, on: { click: fn } }, label);
    return h('div.actions',
      ms.enableReplyTo && this.perms?.canSend ? btn('Reply', () => this.setReply(m)) : null,
      ms.enableReaction ? REACTIONS.map((e) => btn(e, () => this.react(m, e), `react ${e}`)) : null,
      mine && typeof m.content === 'object' ? btn('Edit', () => this.edit(m)) : null,
      mine || this.perms?.canDeleteAny ? btn('Delete', () => this.del(m)) : null);
  }

  setReply(m) {
    this.replyTo = m;
    this.onReplyChange?.();
  }

  async react(m, emoji) {
    const ack = await this.call('hub:react', { messageId: m.id, emoji });
    if (!ack.ok) this.log(`react: ${ack.error.code} ${ack.error.message}`, 'bad');
  }

  /** Opens the edit form of a message: its type's form, filled with its content. */
  edit(m) {
    const schema = this.schemas[`Content.${m.messageType}`] ?? { type: 'object', properties: {} };
    const custom = (this.spec.messageSettings.customMessageTypes ?? []).find((c) => c.name === m.messageType);
    const cancel = h('button.link', { type: 'button', on: { click: () => replace(this.editBox) } }, 'Cancel');
    const form = schemaForm(schema, {
      submitLabel: 'Save',
      testid: 'edit-form',
      values: m.content,
      order: custom ? custom.fields.map((f) => f.name) : [],
      extra: [cancel],
      onSubmit: async (content, f) => {
        const ack = await this.call('hub:edit', { messageId: m.id, content });
        if (!ack.ok) return f.showDetails(ack.error.details, `${ack.error.code}: ${ack.error.message}`);
        replace(this.editBox);
      },
    });
    replace(this.editBox, h('h3', `Edit #${m.seq} (${m.messageType})`), form.el);
  }

  async del(m) {
    const ack = await this.call('hub:delete', { messageId: m.id });
    if (!ack.ok) this.log(`delete: ${ack.error.code} ${ack.error.message}`, 'bad');
  }

  /** hub:silenced / hub:unsilenced (sent to the user concerned). */
  silence(p, on) {
    if (!p.userId || p.userId === this.me) {
      this.silenced = on;
      this.onSilenced?.(on);
    }
    this.log(`${p.userId ?? this.me} ${on ? 'silenced' : 'unsilenced'}${p.by ? ` by ${p.by}` : ''}`, 'mod', on ? 'hub:silenced' : 'hub:unsilenced');
  }

  /** Notes that this user was removed (kicked or blocked); never true. */
  removed(p) {
    if (p.userId === this.me) this.setStatus(`removed from ${this.roomId} by ${p.by}${p.reason ? `: ${p.reason}` : ''}`, 'bad');
    return false;
  }

  // --- side panel

  renderPresence() {
    replace(this.presenceEl, [...this.present].sort().map(([u, st]) =>
      h(`li.${st}`, { dataset: { user: u } }, h('span.dot'), u, u === this.me ? ' (you)' : '', st !== 'online' ? ` · ${st}` : '')));
  }

  renderIndicator() {
    const parts = [];
    if (this.typing.size) parts.push(`${[...this.typing].join(', ')} ${this.typing.size > 1 ? 'are' : 'is'} typing…`);
    if (this.recording.size) parts.push(`${[...this.recording].join(', ')} ${this.recording.size > 1 ? 'are' : 'is'} recording…`);
    this.indicator.textContent = parts.join('  ');
  }

  /** Adds a line to the activity log (newest first, bounded). */
  log(text, kind = 'info', event = '') {
    this.logEl.prepend(h(`li.${kind}`, { dataset: { event } }, h('span.muted', clock(new Date().toISOString())), ' ', text));
    while (this.logEl.children.length > LOG_MAX) this.logEl.lastChild.remove();
  }
}

function claimUser() {
  try {
    const c = JSON.parse(atob(token().split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return c.userId ?? c.sub ?? null;
  } catch {
    return null;
  }
}

function bySeq(a, b) {
  return (a.seq ?? 0) - (b.seq ?? 0);
}

function setPresence(room, userId, status) {
  if (status === 'offline') room.present.delete(userId);
  else room.present.set(userId, status);
  room.renderPresence();
}

function indicator(set, on) {
  return (room, p) => {
    if (on) room[set].add(p.userId);
    else room[set].delete(p.userId);
    room.renderIndicator();
  };
}

/** What each server event does to the room view. */
const serverEvents = {
  'hub:joined': () => {},
  'hub:history': (r, p) => p.messages.forEach((m) => r.upsert(m)),
  'hub:messageArrived': (r, p) => {
    r.upsert(p.message);
    r.onPublished?.(p.message.id);
    r.typing.delete(p.message.senderId);
    r.renderIndicator();
    if (r.spec.eventSettings.enableDeliveryReceipts && p.message.senderId !== r.me) {
      r.call('hub:event', { event: 'messageDelivered', data: { messageId: p.message.id } });
    }
  },
  'hub:messageEdited': (r, p) => {
    r.upsert(p.message);
    r.log(`${p.message.senderId} edited #${p.message.seq}`, 'info', 'hub:messageEdited');
  },
  'hub:messageDeleted': (r, p) => {
    r.remove(p.messageId, p.deletedBy);
    r.log(`message deleted by ${p.deletedBy ?? '?'}`, 'info', 'hub:messageDeleted');
  },
  'hub:reaction': (r, p) => {
    const m = r.messages.get(p.messageId);
    if (m) r.upsert({ ...m, reaction: p.reaction });
  },
  'hub:typing': indicator('typing', true),
  'hub:stopTyping': indicator('typing', false),
  'hub:recording': indicator('recording', true),
  'hub:stopRecording': indicator('recording', false),
  'hub:presence': (r, p) => {
    const st = { online: 'online', joined: 'online', away: 'away', offline: 'offline', left: 'offline' }[p.event];
    if (st) setPresence(r, p.user.id, st);
    r.log(`${p.user.id} ${p.event}`, 'presence', 'hub:presence');
  },
  'hub:online': () => {},
  'hub:offline': () => {},
  'hub:away': () => {},
  'hub:messageRead': (r, p) => {
    r.readMarks.set(p.userId, p.lastReadTimestamp);
    r.rerenderAll();
  },
  'hub:messageDelivered': (r, p) => {
    const set = r.deliveries.get(p.messageId) ?? new Set();
    set.add(p.userId);
    r.deliveries.set(p.messageId, set);
    const m = r.messages.get(p.messageId);
    if (m) r.upsert(m);
  },
  'hub:pendingMessage': (r, p) => r.onPending?.(p.message),
  'hub:messageRejected': (r, p) =>
    r.log(`your message ${p.messageId} was rejected${p.reason ? `: ${p.reason}` : ''}`, 'bad', 'hub:messageRejected'),
  'hub:blocked': (r, p) => r.removed(p) || r.log(`${p.userId} blocked by ${p.by}${p.until ? ` until ${clock(p.until)}` : ''}${p.reason ? `: ${p.reason}` : ''}`, 'mod', 'hub:blocked'),
  'hub:kicked': (r, p) => r.removed(p) || r.log(`${p.userId} kicked by ${p.by}${p.reason ? `: ${p.reason}` : ''}`, 'mod', 'hub:kicked'),
  'hub:silenced': (r, p) => r.silence(p, true),
  'hub:unsilenced': (r, p) => r.silence(p, false),
  'hub:speakRequest': (r, p) => r.log(`${p.userId} asks to speak`, 'mod', 'hub:speakRequest'),
  'hub:roomUpdated': (r, p) => r.log(`room settings ${JSON.stringify(p.settings ?? p.record ?? {})}${p.by ? ` by ${p.by}` : ''}`, 'mod', 'hub:roomUpdated'),
  'hub:roomClosed': (r, p) => r.log(`room closed: ${p.reason ?? ''}`, 'bad', 'hub:roomClosed'),
  'hub:memberJoined': (r, p) => r.log(`${p.userId} became a member`, 'presence', 'hub:memberJoined'),
  'hub:memberLeft': (r, p) => r.log(`${p.userId} is no longer a member`, 'presence', 'hub:memberLeft'),
  'hub:left': (r) => r.setStatus(`left ${r.roomId}`, 'bad'),
  'hub:state': (r, p) => r.log(`state ${JSON.stringify(p.state)}`, 'info', 'hub:state'),
  'hub:error': (r, p) => r.log(`${p.event ?? ''} ${p.code}: ${p.error}`, 'bad', 'hub:error'),
  'hub:tokenExpiring': (r, p) => r.log(`token expires at ${clock(p.expiresAt)}`, 'bad', 'hub:tokenExpiring'),
};
