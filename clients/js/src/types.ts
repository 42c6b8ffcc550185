// Wire types of hubd (docs/protocol.md) and the shape of a hub's generated
// types (hubd gen ts).

/**
 * What a hub carries, as `hubd gen ts` writes it: the content of each
 * message type, the data of custom events by direction, and the hub roles.
 * A client typed with a generated hub checks message types, contents and
 * event names at compile time; AnyHub accepts everything.
 */
export interface HubSchema {
  /** messageType -> content */
  messages: { [type: string]: object };
  /** custom events a client may emit (direction clientToRoom) -> data */
  clientEvents: { [name: string]: unknown };
  /** custom events from the server (serverToRoom, serverToClient) -> data */
  serverEvents: { [name: string]: unknown };
  /** the hub's role names */
  roles: string;
}

/** The schema of a hub whose types were not generated. */
export interface AnyHub extends HubSchema {
  messages: { [type: string]: Record<string, unknown> };
  clientEvents: { [name: string]: unknown };
  serverEvents: { [name: string]: unknown };
  roles: string;
}

export type MessageType<H extends HubSchema> = Extract<keyof H['messages'], string>;
export type ContentOf<H extends HubSchema, T extends MessageType<H>> = H['messages'][T];
export type ClientEventName<H extends HubSchema> = Extract<keyof H['clientEvents'], string>;
export type ServerEventName<H extends HubSchema> = Extract<keyof H['serverEvents'], string>;

export type MessageStatus = 'published' | 'pending' | 'rejected' | 'deleted';

export interface Reaction {
  emoji: string;
  userId: string;
  timestamp: string;
}

/** A stored message; `messageType` narrows `content`. */
export type Message<H extends HubSchema = AnyHub> = {
  [T in MessageType<H>]: MessageBase & { messageType: T; content: ContentOf<H, T> };
}[MessageType<H>];

export interface MessageBase {
  id: string;
  roomId: string;
  /** per-room sequence, strictly increasing from 1 */
  seq: number;
  senderId: string;
  timestamp: string;
  status: MessageStatus;
  editedAt?: string;
  replyTo?: { id: string; preview?: string };
  reaction?: Reaction[];
  forwarded?: boolean;
  clientMessageId?: string;
  audience?: { users: string[] } | { except: string[] };
  /** the room's change number of the message's last change (absent: never changed) */
  rev?: number;
  /** what the message's last change was */
  change?: MessageChange;
}

/** The last change of a stored message. */
export interface MessageChange {
  kind: 'edited' | 'deleted' | 'reaction' | 'approved' | 'rejected';
  /** who made it */
  by?: string;
  at: string;
  /** the emoji toggled (a reaction) */
  emoji?: string;
  /** why it was rejected */
  reason?: string;
  /** the rev of the message's approval, when a later change replaced it */
  approvedRev?: number;
  /** the rev of the message's last edit, when a later change replaced it */
  editedRev?: number;
  /** the message's status before the change, when the change set another */
  was?: MessageStatus;
}

export interface Permissions {
  canRead: boolean;
  canSend: boolean;
  allowedMessageTypes: string[];
  moderated: boolean;
  canModerate: boolean;
  canDeleteAny: boolean;
  canManageRoom: boolean;
}

export interface JoinResult<H extends HubSchema = AnyHub> {
  roomId: string;
  hubRole: H['roles'] | null;
  silenced: boolean;
  permissions: Permissions;
}

export interface SendOptions {
  replyTo?: { id: string; preview?: string };
  forwarded?: boolean;
  /** Defaults to a fresh random id; a retry with the same id is delivered once. */
  clientMessageId?: string;
}

export interface HistoryOptions {
  before?: string;
  after?: string;
  limit?: number;
}

/** A presence change seen in a room. */
export interface PresenceChange {
  roomId: string;
  userId: string;
  state: 'online' | 'away' | 'offline';
}

/** A custom event received from a room or the server. */
export interface CustomEvent<N extends string = string, D = unknown> {
  roomId: string;
  event: N;
  userId?: string;
  data: D;
  messageId?: string;
  seq?: number;
}
