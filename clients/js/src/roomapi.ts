// Room: the calls of one room, bound to its id, with a typing helper that
// paces the typing signal the way the server expects it.

import type { HubClient, HubClientEvents } from './client.js';
import type { ClientEventName, ContentOf, HistoryOptions, HubSchema, JoinResult, Message, MessageType, Reaction, SendOptions } from './types.js';

/** The server stops an indicator not refreshed for 6 s; refresh every 2 s. */
const TYPING_REFRESH_MS = 2000;
/** typing() stops the indicator after this long without a keystroke. */
const TYPING_IDLE_MS = 4000;

const typingState = new WeakMap<object, { sentAt: number; idle?: ReturnType<typeof setTimeout> }>();

export class Room<H extends HubSchema> {
  constructor(
    readonly client: HubClient<H>,
    readonly id: string,
  ) {}

  join(): Promise<JoinResult<H>> {
    return this.client.join(this.id);
  }

  leave(): Promise<void> {
    return this.client.leave(this.id);
  }

  send<T extends MessageType<H>>(messageType: T, content: ContentOf<H, T>, opts?: SendOptions): Promise<Message<H>> {
    return this.client.send(this.id, messageType, content, opts);
  }

  history(opts?: HistoryOptions): Promise<Message<H>[]> {
    return this.client.history(this.id, opts);
  }

  edit<T extends MessageType<H>>(messageId: string, content: ContentOf<H, T>): Promise<Message<H>> {
    return this.client.edit<T>(this.id, messageId, content);
  }

  delete(messageId: string): Promise<void> {
    return this.client.delete(this.id, messageId);
  }

  react(messageId: string, emoji: string): Promise<Reaction[]> {
    return this.client.react(this.id, messageId, emoji);
  }

  emit<N extends ClientEventName<H>>(event: N, data: H['clientEvents'][N]): Promise<{ messageId?: string; seq?: number }> {
    return this.client.emitEvent(this.id, event, data);
  }

  /** Users present in the room (online or away), from presence events. */
  get online(): ReadonlyMap<string, 'online' | 'away'> {
    return this.client.online(this.id);
  }

  /** Asks the server who is in the room now (REST); see HubClient.fetchPresence. */
  fetchPresence(): Promise<ReadonlyMap<string, 'online' | 'away'>> {
    return this.client.fetchPresence(this.id);
  }

  /** Users typing now. */
  get typingUsers(): ReadonlySet<string> {
    return this.client.typingUsers(this.id);
  }

  /**
   * Call on every keystroke: emits `typing` at most every 2 s and
   * `stopTyping` after 4 s without a call.
   */
  typing(): void {
    const key = this.key();
    const t = typingState.get(key) ?? { sentAt: 0 };
    typingState.set(key, t);
    const now = Date.now();
    if (now - t.sentAt >= TYPING_REFRESH_MS) {
      t.sentAt = now;
      this.client.signal(this.id, 'typing').catch(() => {});
    }
    if (t.idle) clearTimeout(t.idle);
    t.idle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  /** Stops the typing indicator now (e.g. when the message is sent). */
  stopTyping(): void {
    const key = this.key();
    const t = typingState.get(key);
    if (!t || t.sentAt === 0) return;
    if (t.idle) clearTimeout(t.idle);
    typingState.delete(key);
    this.client.signal(this.id, 'stopTyping').catch(() => {});
  }

  away(): Promise<void> {
    return this.client.signal(this.id, 'away');
  }

  back(): Promise<void> {
    return this.client.signal(this.id, 'back');
  }

  /** Listens to the client's events of this room only. */
  on<K extends 'message' | 'edited' | 'deleted' | 'reaction' | 'presence' | 'typing' | 'event' | 'state' | 'rejoined' | 'removed'>(
    event: K,
    fn: (arg: HubClientEvents<H>[K]) => void,
  ): () => void {
    return this.client.on(event, (arg) => {
      if ((arg as { roomId?: string }).roomId === this.id) fn(arg);
    });
  }

  /** One typing state per client and room, whichever Room handle is used. */
  private key(): object {
    const perClient = roomKeys.get(this.client) ?? new Map<string, object>();
    roomKeys.set(this.client, perClient);
    let k = perClient.get(this.id);
    if (!k) {
      k = {};
      perClient.set(this.id, k);
    }
    return k;
  }
}

const roomKeys = new WeakMap<object, Map<string, object>>();
