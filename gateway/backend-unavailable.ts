/**
 * A backend that did not answer (the session store or the database) is a 503 with Retry-After for
 * every endpoint, never a 500 and never a 200: the client may try again shortly. Its failure is logged
 * once per outage by the backend's own outage log (lib/outage-log.ts), not once per request.
 */
import { SessionStoreUnavailable } from './session/store.ts';
import { StorageError } from './storage/errors.ts';

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_S = 5;

/** The user-facing message when a backend did not answer, or null for any other error. */
export function unavailableMessage(error: unknown): string | null {
  if (error instanceof SessionStoreUnavailable) return 'Sessions are unavailable, try again shortly.';
  if (error instanceof StorageError && error.code === 'unreachable') return 'The database is unavailable, try again shortly.';
  return null;
}
