// HubClient: one connection to one hub (`/hub/<name>`), the rooms the app
// joined on it, and the outbox of its sends.

import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';

import { Emitter } from './emitter.js';
import { HubError, type WireError } from './errors.js';
import { Outbox, type SendPayload } from './outbox.js';
import { RoomState } from './room.js';
import type {
  AnyHub,
  ClientEventName,
  ContentOf,
  CustomEvent,
  HistoryOptions,
  HubSchema,
  JoinResult,
  Message,
  MessageType,
  PresenceChange,
  Reaction,
  SendOptions,
} from './types.js';
import { Room } from './roomapi.js';

/** Rejoin replays at most this many messages per page (the server's cap). */
const SINCE_CAP = 1000;
const PAGE = 200;

export interface HubClientOptions {
  /** The token, or a function called at every (re)connect for a fresh one. */
  token: string | (() => string | Promise<string>);
  /** Milliseconds to wait for an ack (default 10 000). */
  ackTimeoutMs?: number;
  /** Unsent messages the outbox holds at most (default 1000). */
  maxOutbox?: number;
  /**
   * Sends of one room unanswered at a time (default 1). With 1, a room's
   * messages are stored in send() order whatever is retried, at one round
   * trip per message; more pipelines, and a retried send may land after up
   * to sendWindow - 1 later sends of its room.
   */
  sendWindow?: number;
  /** Passed to socket.io-client's io() (transports, path, reconnection...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** Events of a HubClient. */
export interface HubClientEvents<H extends HubSchema> {
  /** A message, delivered once, in seq order per room. */
  message: Message<H>;
  edited: Message<H>;
  deleted: { roomId: string; messageId: string; deletedBy: string };
  reaction: { roomId: string; messageId: string; reaction: Reaction[]; userId: string; emoji: string };
  presence: PresenceChange;
  typing: { roomId: string; userId: string; typing: boolean };
  /** A custom event (clientToRoom from members, serverToRoom/serverToClient, Kafka events). */
  event: CustomEvent;
  state: { roomId: string; state: unknown };
  /** A hub:error the server emitted (failed calls also reject their promise). */
  error: HubError;
  /** Connected; `recovered` when the server restored the session (no rejoin needed). */
  connect: { recovered: boolean };
  disconnect: { reason: string };
  /**
   * The connection or the namespace CONNECT failed. With AUTH_REQUIRED or
   * INVALID_TOKEN socket.io-client does not retry: reconnect with a new
   * token (client.socket.connect()).
   */
  connectError: HubError;
  /**
   * A send failed with a retryable error (TIMEOUT, UNAVAILABLE,
   * OUTCOME_UNKNOWN, RATE_LIMITED, NOT_JOINED) and goes out again at
   * retryAt (epoch ms), before the later sends of its room.
   */
  sendRetry: { roomId: string; clientMessageId: string; error: HubError; retryAt: number };
  /** A room was joined again after a reconnect that could not be recovered. */
  rejoined: { roomId: string; replayed: number };
  /** The client is out of a room it did not leave itself (kicked, blocked, closed, rejoin refused). */
  removed: { roomId: string; reason: string; error?: HubError };
}

type Ack = { ok: boolean; error?: WireError; [k: string]: unknown };

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
}

export class HubClient<H extends HubSchema = AnyHub> extends Emitter<HubClientEvents<H>> {
  readonly socket: Socket;
  readonly hub: string;
  private readonly baseUrl: string;
  private readonly token: HubClientOptions['token'];
  private readonly rooms = new Map<string, RoomState<H>>();
  private readonly outbox: Outbox;
  private readonly ackTimeoutMs: number;
  private closed = false;

  /**
   * Connects to hub `hub` of the daemon at `url` (e.g. "https://rt.example.com").
   */
  constructor(url: string, hub: string, opts: HubClientOptions) {
    super();
    this.hub = hub;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    const token = opts.token;
    this.token = token;
    this.baseUrl = url.replace(/\/+$/, '');
    this.socket = io(this.baseUrl + '/hub/' + hub, {
      ...opts.socket,
      auth: (cb: (data: object) => void) => {
        Promise.resolve(typeof token === 'function' ? token() : token).then(
          (t) => cb({ token: t }),
          () => cb({}),
        );
      },
    });
    this.outbox = new Outbox(
      {
        canSend: (roomId) => this.socket.connected && this.rooms.get(roomId)?.ready === true,
        emitSend: (payload, cb) => this.emitSend(payload, cb),
        retrying: (payload, error, retryAt) => this.emit('sendRetry', { roomId: payload.roomId, clientMessageId: payload.clientMessageId, error, retryAt }),
      },
      opts.maxOutbox ?? 1000,
      Math.max(1, Math.floor(opts.sendWindow ?? 1)),
    );
    this.wire();
  }

  /** A handle on one room (joined or not). */
  room(roomId: string): Room<H> {
    return new Room<H>(this, roomId);
  }

  /** Whether the socket is connected now. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** Sends waiting for their ack (all rooms, or one). */
  pendingSends(roomId?: string): SendPayload[] {
    return this.outbox.pending(roomId);
  }

  /** The room's present users (from presence events since the join). */
  online(roomId: string): ReadonlyMap<string, 'online' | 'away'> {
    return this.rooms.get(roomId)?.online ?? new Map();
  }

  /**
   * Asks the REST API who is in a joined room now
   * (GET /{hub}/rooms/{roomId}/presence) and makes online() that list;
   * presence events keep it current from there. From a browser page on
   * another origin than the daemon's, the origin must be in the daemon's
   * socketio.allowedOrigins (or that list empty); otherwise the call
   * rejects with CONNECT_FAILED.
   */
  async fetchPresence(roomId: string): Promise<ReadonlyMap<string, 'online' | 'away'>> {
    const token = await Promise.resolve(typeof this.token === 'function' ? this.token() : this.token);
    const url = `${this.baseUrl}/${encodeURIComponent(this.hub)}/rooms/${encodeURIComponent(roomId)}/presence`;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.ackTimeoutMs);
    let body: { ok?: boolean; users?: { userId: string; status: 'online' | 'away' }[]; error?: WireError };
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
      body = await res.json();
    } catch (err) {
      // An abort is the timeout; any other failure means no answer could be
      // read: the daemon is unreachable, or (in a browser) refused the
      // page's origin (docs/rest.md, CORS).
      const code = ctl.signal.aborted ? 'TIMEOUT' : 'CONNECT_FAILED';
      throw new HubError(code, `GET presence: ${(err as Error).message}`, { event: 'GET presence', roomId });
    } finally {
      clearTimeout(timer);
    }
    if (body.ok !== true) throw HubError.fromWire(body.error, 'GET presence', roomId);
    const st = this.rooms.get(roomId);
    const now = new Map((body.users ?? []).map((u) => [u.userId, u.status] as const));
    if (st) {
      st.online.clear();
      for (const [u, status] of now) st.online.set(u, status);
    }
    return now;
  }

  /** Users typing in the room now. */
  typingUsers(roomId: string): ReadonlySet<string> {
    return this.rooms.get(roomId)?.typing ?? new Set();
  }

  /** Joins a room; after a reconnect the client rejoins it by itself. */
  async join(roomId: string): Promise<JoinResult<H>> {
    let st = this.rooms.get(roomId);
    if (!st) {
      st = new RoomState<H>(roomId);
      this.rooms.set(roomId, st);
    }
    st.wanted = true;
    try {
      return await this.doJoin(st);
    } catch (err) {
      if (!st.ready) this.rooms.delete(roomId);
      throw err;
    }
  }

  /** Leaves a room; its unsent messages are rejected with NOT_JOINED. */
  async leave(roomId: string): Promise<void> {
    const st = this.rooms.get(roomId);
    this.rooms.delete(roomId);
    if (st) this.outbox.failRoom(roomId, new HubError('NOT_JOINED', 'the room was left', { event: 'hub:send', roomId }));
    await this.request('hub:leave', { roomId });
  }

  /**
   * Sends a message through the outbox: it is retried with its
   * clientMessageId across timeouts and reconnects until the server answers,
   * and stored once, after the room's earlier sends (see sendWindow).
   * Resolves with the stored message.
   */
  send<T extends MessageType<H>>(roomId: string, messageType: T, content: ContentOf<H, T>, opts: SendOptions = {}): Promise<Message<H>> {
    if (this.closed) return Promise.reject(new HubError('CLOSED', 'the client is closed', { event: 'hub:send', roomId }));
    if (!this.rooms.has(roomId)) {
      return Promise.reject(new HubError('NOT_JOINED', 'join the room before sending to it', { event: 'hub:send', roomId }));
    }
    const payload: SendPayload = { roomId, messageType, content: content as object, clientMessageId: opts.clientMessageId ?? randomId() };
    if (opts.replyTo) payload.replyTo = opts.replyTo;
    if (opts.forwarded !== undefined) payload.forwarded = opts.forwarded;
    return this.outbox.add(payload) as Promise<Message<H>>;
  }

  /** Published messages of a room, oldest first. */
  async history(roomId: string, opts: HistoryOptions = {}): Promise<Message<H>[]> {
    const ack = await this.request('hub:loadHistory', { roomId, ...opts });
    return (ack.messages as Message<H>[]) ?? [];
  }

  async edit<T extends MessageType<H>>(roomId: string, messageId: string, content: ContentOf<H, T>): Promise<Message<H>> {
    const ack = await this.request('hub:edit', { roomId, messageId, content });
    return ack.message as Message<H>;
  }

  async delete(roomId: string, messageId: string): Promise<void> {
    await this.request('hub:delete', { roomId, messageId });
  }

  async react(roomId: string, messageId: string, emoji: string): Promise<Reaction[]> {
    const ack = await this.request('hub:react', { roomId, messageId, emoji });
    return (ack.reaction as Reaction[]) ?? [];
  }

  /** Emits a custom clientToRoom event; a stored one resolves with its messageId and seq. */
  async emitEvent<N extends ClientEventName<H>>(roomId: string, event: N, data: H['clientEvents'][N]): Promise<{ messageId?: string; seq?: number }> {
    const ack = await this.request('hub:event', { roomId, event, data });
    return { messageId: ack.messageId as string | undefined, seq: ack.seq as number | undefined };
  }

  /** Emits a standard signal (typing, stopTyping, away, back, messageRead...). */
  async signal(roomId: string, event: string, data?: unknown): Promise<void> {
    await this.request('hub:event', data === undefined ? { roomId, event } : { roomId, event, data });
  }

  /** Sends one request and resolves with its ack, or rejects with a HubError. */
  async request(event: string, payload: { roomId?: string; [k: string]: unknown }): Promise<Ack> {
    if (this.closed) throw new HubError('CLOSED', 'the client is closed', { event, roomId: payload.roomId });
    await this.whenConnected(event, payload.roomId);
    return new Promise((resolve, reject) => {
      this.socket.timeout(this.ackTimeoutMs).emit(event, payload, (err: Error | null, ack: Ack) => {
        if (err) return reject(new HubError('TIMEOUT', `no answer to ${event}: ${err.message}`, { event, roomId: payload.roomId }));
        if (!ack || ack.ok !== true) return reject(HubError.fromWire(ack?.error, event, payload.roomId));
        resolve(ack);
      });
    });
  }

  /** Closes the connection; pending sends are rejected with CLOSED. */
  close(): void {
    this.closed = true;
    this.outbox.failAll(new HubError('CLOSED', 'the client is closed'));
    for (const st of this.rooms.values()) st.release();
    this.rooms.clear();
    this.socket.close();
  }

  private whenConnected(event: string, roomId?: string): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('connect', onConnect);
        reject(new HubError('TIMEOUT', `not connected within ${this.ackTimeoutMs} ms`, { event, roomId }));
      }, this.ackTimeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.once('connect', onConnect);
    });
  }

  private emitSend(payload: SendPayload, cb: (err: HubError | null, ack?: { message: unknown }) => void): void {
    this.socket.timeout(this.ackTimeoutMs).emit('hub:send', payload, (err: Error | null, ack: Ack) => {
      if (err) return cb(new HubError('TIMEOUT', `no answer to hub:send: ${err.message}`, { event: 'hub:send', roomId: payload.roomId }));
      if (!ack || ack.ok !== true) return cb(HubError.fromWire(ack?.error, 'hub:send', payload.roomId));
      cb(null, { message: ack.message });
    });
  }

  /**
   * Joins (or rejoins) a room. On a rejoin `since` is the last delivered
   * message: live messages are held until the server's hub:history with
   * what was missed has been delivered, so the app sees each message once
   * and in order.
   */
  private async doJoin(st: RoomState<H>): Promise<JoinResult<H>> {
    const since = st.lastId;
    if (since) {
      st.replayEnd?.();
      st.replayEnd = this.hold(st);
    }
    const endReplay = () => {
      st.replayEnd?.();
      st.replayEnd = undefined;
    };
    let ack: Ack;
    st.joining = true;
    try {
      ack = await this.request('hub:join', since ? { roomId: st.id, since } : { roomId: st.id });
    } catch (err) {
      endReplay();
      throw err;
    } finally {
      st.joining = false;
    }
    const res = ack as unknown as JoinResult<H>;
    if (res.permissions && res.permissions.canRead === false) endReplay();
    st.ready = true;
    this.outbox.pump();
    return res;
  }

  /**
   * Holds the room's live messages until the returned function is called
   * (or, at the latest, after twice the ack timeout).
   */
  private hold(st: RoomState<H>): () => void {
    st.holds++;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      st.holds--;
      if (st.holds === 0) for (const m of st.release()) this.deliver(st, m);
    };
    const timer = setTimeout(end, 2 * this.ackTimeoutMs);
    return end;
  }

  /** Delivers a live message, or holds it while the room is held. */
  private deliver(st: RoomState<H>, m: Message<H>): boolean {
    if (st.holds > 0) {
      st.held.push(m);
      return false;
    }
    return this.deliverNow(st, m);
  }

  /** Delivers a message of a history read (older than anything held). */
  private deliverNow(st: RoomState<H>, m: Message<H>): boolean {
    if (!st.accept(m.id, m.seq, m.change?.kind === 'approved' || !!m.change?.approvedRev)) return false;
    this.emit('message', m);
    return true;
  }

  /**
   * Delivers the messages after `after` from the room's history, page by
   * page, while pages are full (a first page of up to `first` messages may
   * be given). Returns how many were new.
   */
  private async readAfter(st: RoomState<H>, after: string, first?: Message<H>[]): Promise<number> {
    let n = 0;
    let page = first;
    let limit = first ? SINCE_CAP : PAGE;
    for (;;) {
      if (!page) page = await this.history(st.id, { after, limit: PAGE });
      for (const m of page) if (this.deliverNow(st, m)) n++;
      if (page.length < limit || page.length === 0 || this.rooms.get(st.id) !== st) return n;
      after = page[page.length - 1].id;
      page = undefined;
      limit = PAGE;
    }
  }

  /** Replays a rejoin's hub:history, paging on when it hit the server's cap. */
  private async replay(st: RoomState<H>, messages: Message<H>[], end: () => void, since: string): Promise<void> {
    let n = 0;
    try {
      n = await this.readAfter(st, since, messages);
    } catch {
      // Paging failed (disconnected): the next rejoin starts from what was delivered.
    } finally {
      end();
    }
    this.emit('rejoined', { roomId: st.id, replayed: n });
  }

  private onConnect(): void {
    const recovered = this.socket.recovered === true;
    this.emit('connect', { recovered });
    if (recovered) {
      // The server restored the socket's rooms and replays what was missed;
      // a catch-up read closes the gaps its replay may leave at the edges.
      for (const st of this.rooms.values()) {
        st.ready = true;
        void this.catchUp(st);
      }
      this.outbox.pump();
      return;
    }
    for (const st of this.rooms.values()) {
      if (st.wanted && !st.ready) this.rejoin(st);
    }
  }

  private rejoin(st: RoomState<H>): void {
    this.doJoin(st).catch((err: HubError) => {
      if (err.code === 'TIMEOUT' || err.code === 'CLOSED' || err.code === 'UNAVAILABLE') return;
      this.removeRoom(st.id, 'rejoin refused', err);
    });
  }

  /**
   * After a recovered reconnect: reads the room's messages after the last
   * one delivered, holding live ones meanwhile, so that nothing the
   * server's replay left out is missed and the order stays by seq.
   */
  private async catchUp(st: RoomState<H>): Promise<void> {
    if (!st.lastId) return;
    const end = this.hold(st);
    try {
      await this.readAfter(st, st.lastId);
    } catch {
      // The live stream and the server's replay still deliver; nothing to add.
    } finally {
      end();
    }
  }

  /**
   * A hub:error about hub:join that is not the answer to a join of ours
   * comes from a recovery: the room could not be recovered. The client
   * rejoins with since when the server says so (RECOVERY_INCOMPLETE,
   * UNAVAILABLE), and is out of the room otherwise.
   */
  private recoveryError(err: HubError): void {
    const st = err.roomId === undefined ? undefined : this.rooms.get(err.roomId);
    if (!st || st.joining || err.event !== 'hub:join') return;
    st.ready = false;
    if (err.code === 'RECOVERY_INCOMPLETE' || err.code === 'UNAVAILABLE') this.rejoin(st);
    else this.removeRoom(st.id, 'not recovered', err);
  }

  private removeRoom(roomId: string, reason: string, error?: HubError): void {
    const st = this.rooms.get(roomId);
    if (!st) return;
    this.rooms.delete(roomId);
    st.release();
    this.outbox.failRoom(roomId, error ?? new HubError('NOT_JOINED', `out of the room: ${reason}`, { event: 'hub:send', roomId }));
    this.emit('removed', { roomId, reason, error });
  }

  private setPresence(roomId: string, userId: string, state: PresenceChange['state']): void {
    const st = this.rooms.get(roomId);
    if (!st) return;
    if (state === 'offline') st.online.delete(userId);
    else st.online.set(userId, state);
    if (state !== 'online') st.typing.delete(userId);
    this.emit('presence', { roomId, userId, state });
  }

  private setTyping(roomId: string, userId: string, typing: boolean): void {
    const st = this.rooms.get(roomId);
    if (!st) return;
    if (typing) st.typing.add(userId);
    else st.typing.delete(userId);
    this.emit('typing', { roomId, userId, typing });
  }

  private wire(): void {
    const s = this.socket;
    const room = (roomId: unknown) => (typeof roomId === 'string' ? this.rooms.get(roomId) : undefined);
    s.on('connect', () => this.onConnect());
    s.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code;
      this.emit('connectError', code ? HubError.fromWire({ code, message: err.message }, 'connect') : new HubError('CONNECT_FAILED', err.message, { event: 'connect' }));
    });
    s.on('disconnect', (reason: string) => {
      for (const st of this.rooms.values()) st.disconnected();
      this.outbox.disconnected();
      this.emit('disconnect', { reason });
    });
    s.on('hub:messageArrived', (p: { roomId: string; message: Message<H> }) => {
      const st = room(p.roomId);
      if (st && p.message) this.deliver(st, p.message);
    });
    s.on('hub:history', (p: { roomId: string; messages: Message<H>[] }) => {
      const st = room(p.roomId);
      if (!st) return;
      const end = st.replayEnd;
      st.replayEnd = undefined;
      if (end && st.lastId) void this.replay(st, p.messages ?? [], end, st.lastId);
      else for (const m of p.messages ?? []) this.deliver(st, m);
    });
    s.on('hub:messageEdited', (p: { message: Message<H> }) => this.emit('edited', p.message));
    s.on('hub:messageDeleted', (p: HubClientEvents<H>['deleted']) => this.emit('deleted', p));
    s.on('hub:reaction', (p: HubClientEvents<H>['reaction']) => this.emit('reaction', p));
    s.on('hub:state', (p: { roomId: string; state: unknown }) => this.emit('state', p));
    s.on('hub:online', (p: { roomId: string; userId: string }) => this.setPresence(p.roomId, p.userId, 'online'));
    s.on('hub:away', (p: { roomId: string; userId: string }) => this.setPresence(p.roomId, p.userId, 'away'));
    s.on('hub:offline', (p: { roomId: string; userId: string }) => this.setPresence(p.roomId, p.userId, 'offline'));
    s.on('hub:typing', (p: { roomId: string; userId: string }) => this.setTyping(p.roomId, p.userId, true));
    s.on('hub:stopTyping', (p: { roomId: string; userId: string }) => this.setTyping(p.roomId, p.userId, false));
    s.on('hub:error', (p: { error: string; code: string; event?: string; roomId?: string; details?: unknown }) => {
      const err = HubError.fromWire({ code: p.code, message: p.error, details: p.details }, p.event ?? '', p.roomId);
      this.emit('error', err);
      this.recoveryError(err);
    });
    for (const ev of ['hub:kicked', 'hub:blocked', 'hub:roomClosed'] as const) {
      s.on(ev, (p: { roomId: string; reason?: string }) => this.removeRoom(p.roomId, ev.slice(4) + (p.reason ? ': ' + p.reason : '')));
    }
    s.onAny((event: string, p: { roomId?: string; userId?: string; data?: unknown; messageId?: string; seq?: number }) => {
      if (event.startsWith('hub:') || !p || typeof p !== 'object') return;
      const st = room(p.roomId);
      if (st && typeof p.messageId === 'string' && !st.accept(p.messageId, p.seq)) return;
      this.emit('event', { roomId: p.roomId ?? '', event, userId: p.userId, data: p.data, messageId: p.messageId, seq: p.seq });
    });
  }
}
