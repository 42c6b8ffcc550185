// The outbox: sends waiting for their ack. Each carries its clientMessageId,
// so a send repeated after a timeout or a reconnect is stored once by the
// server, which returns the stored original.
//
// Order: the sends of one room go out in the order send() was called, at
// most `window` of them unanswered at a time. With the default window of 1 a
// room's next send leaves once the previous one is answered (stored, or
// refused for good), so a retried send is never overtaken: the room's
// messages are stored in send() order, whatever fails on the way (timeouts,
// reconnects, UNAVAILABLE, OUTCOME_UNKNOWN, RATE_LIMITED). The cost is one
// round trip per message per room; rooms do not wait for each other. A
// larger window pipelines, and a retried send may then land after up to
// window - 1 later sends of its room.

import { HubError, retryable } from './errors.js';

export interface SendPayload {
  roomId: string;
  messageType: string;
  content: object;
  clientMessageId: string;
  replyTo?: { id: string; preview?: string };
  forwarded?: boolean;
}

interface Entry {
  payload: SendPayload;
  resolve: (message: unknown) => void;
  reject: (err: HubError) => void;
  /** The attempt whose answer is awaited (0: none); late answers of earlier attempts are ignored. */
  inFlight: number;
  retryAt: number;
  attempts: number;
}

/** What the outbox needs from the client. */
export interface OutboxTransport {
  /** Whether sends to this room can go out now (connected and joined). */
  canSend(roomId: string): boolean;
  /** Emits hub:send and calls back with the error or the ack. */
  emitSend(payload: SendPayload, cb: (err: HubError | null, ack?: { message: unknown }) => void): void;
  /** A send failed and will be retried at retryAt (epoch ms). */
  retrying(payload: SendPayload, err: HubError, retryAt: number): void;
}

const BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];

export class Outbox {
  private entries: Entry[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly maxSize: number,
    private readonly window = 1,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** Pending sends of a room, oldest first. */
  pending(roomId?: string): SendPayload[] {
    return this.entries.filter((e) => roomId === undefined || e.payload.roomId === roomId).map((e) => e.payload);
  }

  add(payload: SendPayload): Promise<unknown> {
    if (this.entries.length >= this.maxSize) {
      return Promise.reject(new HubError('OUTBOX_FULL', `outbox holds ${this.maxSize} unsent messages`, { event: 'hub:send', roomId: payload.roomId }));
    }
    return new Promise((resolve, reject) => {
      this.entries.push({ payload, resolve, reject, inFlight: 0, retryAt: 0, attempts: 0 });
      this.pump();
    });
  }

  /**
   * Sends what may go out now: per room, in the order the sends were added,
   * up to the window; a room stops at its first send that waits (for a
   * retry time, or for the room to be joined again).
   */
  pump(): void {
    const now = Date.now();
    let next = Infinity;
    const flying = new Map<string, number>();
    const stopped = new Set<string>();
    for (const e of this.entries) {
      const room = e.payload.roomId;
      if (stopped.has(room)) continue;
      if (!e.inFlight) {
        if (e.retryAt > now || !this.transport.canSend(room)) {
          if (e.retryAt > now) next = Math.min(next, e.retryAt);
          stopped.add(room);
          continue;
        }
        this.fire(e);
      }
      const n = (flying.get(room) ?? 0) + 1;
      flying.set(room, n);
      if (n >= this.window) stopped.add(room);
    }
    if (next !== Infinity) this.wakeAt(next);
  }

  /**
   * The connection dropped: no answer will come to the sends in flight.
   * They go out again, in order, once their room can send (their outcome is
   * unknown; the clientMessageId makes the resend safe).
   */
  disconnected(): void {
    for (const e of this.entries) {
      e.inFlight = 0;
      e.retryAt = 0;
    }
  }

  /** Rejects the room's pending sends (the app left it, or it is gone). */
  failRoom(roomId: string, err: HubError): void {
    for (const e of this.entries.filter((x) => x.payload.roomId === roomId)) this.settle(e, err);
  }

  /** Rejects everything (the client was closed). */
  failAll(err: HubError): void {
    for (const e of [...this.entries]) this.settle(e, err);
    if (this.timer) clearTimeout(this.timer);
  }

  private fire(e: Entry): void {
    const attempt = ++e.attempts;
    e.inFlight = attempt;
    this.transport.emitSend(e.payload, (err, ack) => {
      if (e.inFlight !== attempt || !this.entries.includes(e)) return;
      e.inFlight = 0;
      if (!err) {
        this.remove(e);
        e.resolve(ack?.message);
      } else if (!retryable(err.code)) {
        this.settle(e, err);
      } else {
        const backoff = BACKOFF_MS[Math.min(e.attempts - 1, BACKOFF_MS.length - 1)];
        e.retryAt = Date.now() + Math.max(err.retryAfterMs ?? 0, backoff);
        this.transport.retrying(e.payload, err, e.retryAt);
      }
      this.pump();
    });
  }

  private settle(e: Entry, err: HubError): void {
    this.remove(e);
    e.reject(err);
  }

  private remove(e: Entry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - Date.now()));
  }
}
