// Errors of the hubd wire contract (docs/protocol.md, "Acks and errors").

/** Every error code a hubd ack or hub:error can carry. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_EVENT',
  'ROOM_NOT_FOUND',
  'ROOM_NOT_ELIGIBLE',
  'FORBIDDEN',
  'NOT_JOINED',
  'ROOM_FULL',
  'TOO_MANY_ROOMS',
  'MESSAGE_TOO_LARGE',
  'INVALID_MESSAGE',
  'TYPE_NOT_ALLOWED',
  'SILENCED',
  'BLOCKED',
  'RATE_LIMITED',
  'NOT_FOUND',
  'UNAVAILABLE',
  'OUTCOME_UNKNOWN',
  'IDLE_TIMEOUT',
  'RECOVERY_INCOMPLETE',
  'REJECTED',
  'INTERNAL',
  'AUTH_REQUIRED',
  'INVALID_TOKEN',
] as const;

/** A code of the wire contract. */
export type ServerErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes the client makes itself: TIMEOUT when no ack came in time while
 * connected (the outcome is unknown: sends are retried), CLOSED when the
 * client was closed before the call finished, OUTBOX_FULL when too many
 * sends are waiting (nothing was sent), CONNECT_FAILED when the daemon could
 * not be reached (socket.io-client retries by itself).
 */
export type ClientErrorCode = 'TIMEOUT' | 'CLOSED' | 'OUTBOX_FULL' | 'CONNECT_FAILED';

export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** One bad field of an INVALID_MESSAGE error. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The `error` object of a failed ack. */
export interface WireError {
  code: string;
  message: string;
  details?: unknown;
  retryAfterMs?: number;
}

/** A failed call: the server's code and message, or TIMEOUT / CLOSED. */
export class HubError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly retryAfterMs?: number;
  readonly event?: string;
  readonly roomId?: string;

  constructor(code: ErrorCode, message: string, extra: { details?: unknown; retryAfterMs?: number; event?: string; roomId?: string } = {}) {
    super(message);
    this.name = 'HubError';
    this.code = code;
    this.details = extra.details;
    this.retryAfterMs = extra.retryAfterMs;
    this.event = extra.event;
    this.roomId = extra.roomId;
  }

  /** The bad fields of an INVALID_MESSAGE error (empty otherwise). */
  get fields(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]) : [];
  }

  static fromWire(err: WireError | undefined, event: string, roomId?: string): HubError {
    const code = (ERROR_CODES as readonly string[]).includes(err?.code ?? '') ? (err!.code as ServerErrorCode) : 'INTERNAL';
    const details = err?.details as { retryAfterMs?: number } | undefined;
    const retryAfterMs = err?.retryAfterMs ?? (typeof details?.retryAfterMs === 'number' ? details.retryAfterMs : undefined);
    return new HubError(code, err?.message ?? 'request failed', { details: err?.details, retryAfterMs, event, roomId });
  }
}

/**
 * Whether a send that failed with this code may be retried with the same
 * clientMessageId: the server stored nothing (UNAVAILABLE, RATE_LIMITED,
 * NOT_JOINED while a rejoin is under way) or may have stored it once
 * (OUTCOME_UNKNOWN, TIMEOUT); a retry returns the stored original.
 */
export function retryable(code: ErrorCode): boolean {
  return code === 'UNAVAILABLE' || code === 'OUTCOME_UNKNOWN' || code === 'RATE_LIMITED' || code === 'TIMEOUT' || code === 'NOT_JOINED';
}
