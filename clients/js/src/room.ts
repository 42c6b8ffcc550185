// Per-room state kept by the client: what was delivered (for deduplication
// and for `since` on rejoin), live messages held back while a rejoin's
// history is replayed, who is present and who is typing.

import type { AnyHub, HubSchema, Message } from './types.js';

/** How many message ids a room remembers for deduplication. */
export const SEEN_WINDOW = 10_000;

export class RoomState<H extends HubSchema = AnyHub> {
  /** The app wants this room joined (join called, leave not). */
  wanted = true;
  /** The server has this socket in the room. */
  ready = false;
  /** A hub:join of ours is under way (its hub:error is the call's own). */
  joining = false;
  /**
   * Live messages are held while a rejoin's history or a catch-up read is
   * under way (one count per hold), then delivered in seq order.
   */
  holds = 0;
  held: Message<H>[] = [];
  /** Ends the hold of a rejoin with since when its hub:history arrives. */
  replayEnd: (() => void) | undefined;
  lastSeq = 0;
  lastId: string | undefined;
  readonly online = new Map<string, 'online' | 'away'>();
  readonly typing = new Set<string>();
  private readonly seen = new Set<string>();
  /** Messages at or below this seq fell out of the window: already delivered. */
  private floor = 0;
  private readonly seqOf = new Map<string, number>();

  constructor(readonly id: string) {}

  /**
   * Records a message and reports whether it is new. A message is delivered
   * once: its id was not seen, and its seq is above the forgotten window
   * (an approved message is checked by id only: it is published long after
   * its seq was given, when later ones may have left the window).
   */
  accept(id: string, seq: number | undefined, approved = false): boolean {
    if (this.seen.has(id)) return false;
    if (!approved && typeof seq === 'number' && seq <= this.floor) return false;
    this.seen.add(id);
    this.seqOf.set(id, seq ?? 0);
    if (typeof seq === 'number' && seq > this.lastSeq) {
      this.lastSeq = seq;
      this.lastId = id;
    }
    if (this.seen.size > SEEN_WINDOW) {
      const oldest = this.seen.values().next().value as string;
      this.seen.delete(oldest);
      this.floor = Math.max(this.floor, this.seqOf.get(oldest) ?? 0);
      this.seqOf.delete(oldest);
    }
    return true;
  }

  /** Returns the held messages in seq order and forgets them. */
  release(): Message<H>[] {
    const out = this.held.sort((a, b) => a.seq - b.seq);
    this.held = [];
    return out;
  }

  /** Forgets what only holds while connected. */
  disconnected(): void {
    this.ready = false;
    this.typing.clear();
  }
}
