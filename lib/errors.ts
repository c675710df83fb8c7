import { renderProblem, type ConfigProblem } from './config-problems.ts';

/**
 * Every code a Gatehouse error may carry. The README's `## Errors` section says what each means and
 * what to do (tests/unit/error-codes.test.ts checks the two lists agree). A code, once published, keeps
 * its spelling: tests, logs and operators' scripts branch on it.
 */
export const ERROR_CODES = [
  // configuration, start and the command line
  'config_invalid',
  'startup_check_failed',
  'secret_file_unusable',
  'listen_address_invalid',
  'usage_error',
  'command_failed',
  'secret_input_failed',
  'regex_not_linear',
  // users and first-run setup
  'users_file_invalid',
  'user_exists',
  'users_not_empty',
  'user_not_found',
  'invalid_user_input',
  'unsupported_hash',
  'users_empty_after_setup',
  'setup_closed',
  'user_directory_unavailable',
  // signing in and forward-auth
  'password_checks_busy',
  'bad_authz_request',
  // the session store
  'session_store_unavailable',
  // storage (codes from before storage's errors joined this list, hence no prefix)
  'invalid_options',
  'encryption_key_too_short',
  'encryption_key_mismatch',
  'open_failed',
  'unreachable',
  'migrations_pending',
  'migration_failed',
  'schema_too_new',
  'query_failed',
  'decryption_failed',
  'closed',
  // the notifier
  'notifier_unavailable',
  'notification_failed',
  // the monitor
  'auth_store_unavailable',
  'ssl_settings_invalid',
  'terminal_unavailable',
  'host_data_malformed',
  // mistakes in Gatehouse's own code, caught where they would do harm
  'route_table_invalid',
  'internal_error',
  // sentinels that never leave their module (re-hashing a password on login lost a race)
  'internal_stale_hash',
  'internal_users_file_changed',
  // a user attribute's expression failed for one user (an index out of range…): that user has no value
  'internal_expression_failed',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class for every error Gatehouse raises: callers branch on `code` (or the class), never on text. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The configuration (or a file it points at) is unusable; the message is fit for the operator. */
export class ConfigError extends GatehouseError {
  declare readonly code: 'config_invalid';
  /** Each problem as the operator reads it: `config: <path>: <message>` for a configuration's. */
  readonly problems: string[];
  /** The configuration's problems as data (path, message, severity); a problem given as a line has none. */
  readonly details: readonly ConfigProblem[];
  constructor(problems: readonly (ConfigProblem | string)[]) {
    const lines = problems.map((problem) => (typeof problem === 'string' ? problem : renderProblem(problem)));
    super('config_invalid', lines.join('\n'));
    this.problems = lines;
    this.details = problems.filter((problem) => typeof problem !== 'string');
  }
}

/** A state the code rules out was reached, or a route table breaks its own rules: a bug, refused loudly. */
export class InternalError extends GatehouseError {
  declare readonly code: 'route_table_invalid' | 'internal_error';
  constructor(code: 'route_table_invalid' | 'internal_error', message: string) {
    super(code, message);
  }
}

/** Seconds a client is asked to wait after a 503 for a backend that did not answer. */
export const RETRY_AFTER_S = 5;

/**
 * A backend that did not answer (the session store, the database) is a 503 with Retry-After for every
 * endpoint, never a 500 and never a 200: the client may try again shortly. Its failure is logged once
 * per outage by the backend's own outage log (lib/outage-log.ts), not once per request.
 */
const UNAVAILABLE_MESSAGES: Partial<Record<ErrorCode, string>> = {
  session_store_unavailable: 'Sessions are unavailable, try again shortly.',
  unreachable: 'The database is unavailable, try again shortly.',
  user_directory_unavailable: 'The user directory is unavailable, try again shortly.',
};

/** The user-facing message when `error` says a backend did not answer, or null for any other error. */
export function unavailableMessage(error: unknown): string | null {
  return error instanceof GatehouseError ? (UNAVAILABLE_MESSAGES[error.code] ?? null) : null;
}
