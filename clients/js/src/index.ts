// @hubd/client: a typed client for hubd hubs on top of socket.io-client v4.

export { HubClient } from './client.js';
export type { HubClientEvents, HubClientOptions } from './client.js';
export { Room } from './roomapi.js';
export { ERROR_CODES, HubError, retryable } from './errors.js';
export type { ClientErrorCode, ErrorCode, FieldProblem, ServerErrorCode, WireError } from './errors.js';
export type { SendPayload } from './outbox.js';
export type * from './types.js';
