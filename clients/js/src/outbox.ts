// The outbox: sends waiting for their ack. Each carries its clientMessageId,
// so a send repeated after a timeout or a reconnect is stored once by the
// server, which returns the stored original.

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
  inFlight: boolean;
  retryAt: number;
  attempts: number;
}

/** What the outbox needs from the client. */
export interface OutboxTransport {
  /** Whether sends to this room can go out now (connected and joined). */
  canSend(roomId: string): boolean;
  /** Emits hub:send and calls back with the error or the ack. */
  emitSend(payload: SendPayload, cb: (err: HubError | null, ack?: { message: unknown }) => void): void;
}

const BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];

export class Outbox {
  private entries: Entry[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly maxSize: number,
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
      this.entries.push({ payload, resolve, reject, inFlight: false, retryAt: 0, attempts: 0 });
      this.pump();
    });
  }

  /** Sends every entry that may go out now, in the order they were added. */
  pump(): void {
    const now = Date.now();
    let next = Infinity;
    for (const e of this.entries) {
      if (e.inFlight) continue;
      if (e.retryAt > now) {
        next = Math.min(next, e.retryAt);
        continue;
      }
      if (!this.transport.canSend(e.payload.roomId)) continue;
      this.fire(e);
    }
    if (next !== Infinity) this.wakeAt(next);
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
    e.inFlight = true;
    e.attempts++;
    this.transport.emitSend(e.payload, (err, ack) => {
      e.inFlight = false;
      if (!this.entries.includes(e)) return;
      if (!err) {
        this.remove(e);
        e.resolve(ack?.message);
        return;
      }
      if (!retryable(err.code)) {
        this.settle(e, err);
        return;
      }
      const backoff = BACKOFF_MS[Math.min(e.attempts - 1, BACKOFF_MS.length - 1)];
      e.retryAt = Date.now() + Math.max(err.retryAfterMs ?? 0, backoff);
      this.wakeAt(e.retryAt);
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
