/**
 * The monitor's account file, `<data_dir>/auth.json`, with ProxMenux's keys (so an existing ProxMenux
 * file loads) plus ours. Reads are cached and re-validated when the file changes on disk; every
 * read-modify-write runs under one in-process lock and is written atomically with mode 0600.
 *
 * Fail closed: a file that exists but cannot be read or does not validate is never replaced. Every
 * operation throws AuthStoreUnavailable until an operator fixes or restores it; ProxMenux instead
 * treated it as "auth disabled" and saved defaults over it.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { weakSecretReason } from '../../lib/secret-strength.ts';
import { hashFormatProblem } from '../../lib/password-hash.ts';

export const AUTH_FILE_NAME = 'auth.json';

/** 48 random bytes, base64url: 64 characters. Shorter secrets found on disk are replaced. */
const JWT_SECRET_BYTES = 48;
const MIN_JWT_SECRET_LENGTH = 64;

/** auth.json exists but cannot be used. `message` names the file and is shown to API clients. */
export class AuthStoreUnavailable extends GatehouseError {
  declare readonly code: 'auth_store_unavailable';
  readonly path: string;
  readonly detail: string;
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super('auth_store_unavailable', `The monitor's account file ${path} is unreadable; fix or restore it (${detail})`, options);
    this.path = path;
    this.detail = detail;
  }
}

const scope = z.enum(['read_only', 'full_admin']);

// ProxMenux writes "" for cleared credentials (its reset script); both mean "none".
const optionalText = z
  .string()
  .nullable()
  .default(null)
  .transform((v) => (v === '' ? null : v));

const backupCode = z.looseObject({ code: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'), used: z.boolean() });

const apiToken = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  token_hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
  token_prefix: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  /** Missing on ProxMenux entries, whose tokens this monitor does not accept anyway. */
  scope: scope.optional(),
  signed_with: z.string().optional(),
  /** Ours: the token's jti, so a listed token can be matched without hashing it. */
  jti: z.string().optional(),
  /** Ours: the token's last 4 characters, so two tokens of one name are told apart; missing on older entries. */
  token_last4: z.string().regex(/^[A-Za-z0-9_-]{4}$/, '4 base64url characters').optional(),
});

const authFileSchema = z
  .looseObject({
    enabled: z.boolean().default(false),
    configured: z.boolean().optional(),
    declined: z.boolean().default(false),
    username: optionalText,
    password_hash: optionalText,
    display_name: optionalText,
    jwt_secret: z.string().optional(),
    totp_enabled: z.boolean().default(false),
    // Plaintext, as ProxMenux stores it. Encrypting it with a key derived from jwt_secret would
    // protect nothing: that key sits in this same file, so whoever can read one reads both. The
    // protection is mode 0600 in a private directory, and a ProxMenux file keeps working.
    totp_secret: optionalText,
    last_totp_counter: z.number().int().nonnegative().nullable().default(null),
    backup_codes: z.array(backupCode).default([]),
    api_tokens: z.array(apiToken).default([]),
    /** sha256 hex of revoked tokens (ProxMenux's list; kept and still honoured). */
    revoked_tokens: z.array(z.string()).default([]),
    /** Ours: revoked token ids until the token would have expired anyway (epoch seconds). */
    revoked_jtis: z.array(z.looseObject({ jti: z.string().min(1), expires_at: z.number() })).default([]),
    /** Ours: sessions issued before this (epoch seconds) are void; set by change-password and disable. */
    sessions_not_before: z.number().nullable().default(null),
    /** Ours: sessions carry this as a claim; bumped by setup, change-password, disable and reset-password. */
    session_generation: z.number().int().nonnegative().default(0),
    /** Ours: a TOTP enrolment awaiting its first code; the active secret stays until it is confirmed. */
    totp_pending: z
      .looseObject({ secret: z.string().min(1), backup_codes: z.array(backupCode), created_at: z.number() })
      .nullable()
      .default(null),
  })
  .transform((file) => ({ ...file, configured: file.configured ?? (file.enabled || file.declined) }));

export type AuthState = z.output<typeof authFileSchema> & { jwt_secret: string };
export type StoredApiToken = z.output<typeof apiToken>;
export type StoredBackupCode = z.output<typeof backupCode>;

function newJwtSecret(): string {
  return randomBytes(JWT_SECRET_BYTES).toString('base64url');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : 'the top level';
  return `${path}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** True when a local login exists (username and password hash); setup runs only while it does not. */
export function hasCredentials(state: AuthState): boolean {
  return state.username !== null && state.password_hash !== null;
}

/** A valid file without a strong secret (long, no placeholder, no pattern) is not usable yet: the caller adds one under the lock. */
function usable(state: AuthState | null): AuthState | null {
  return state !== null && weakSecretReason(state.jwt_secret, MIN_JWT_SECRET_LENGTH) === null ? state : null;
}

export interface AuthStoreOptions {
  dataDir: string;
  now?: () => number;
  /** Told when the store replaces a missing or too short jwt_secret (every token becomes invalid). */
  onSecretGenerated?: (reason: 'new_file' | 'missing' | 'too_short' | 'weak') => void;
}

interface Snapshot {
  signature: string;
  state: AuthState | null;
  error: AuthStoreUnavailable | null;
}

export class AuthStore {
  readonly path: string;
  readonly #now: () => number;
  readonly #onSecretGenerated: AuthStoreOptions['onSecretGenerated'];
  #snapshot: Snapshot | null = null;
  /** Set once the file has existed: a file that later disappears is an error, not a fresh start. */
  #seen = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: AuthStoreOptions) {
    this.path = join(options.dataDir, AUTH_FILE_NAME);
    this.#now = options.now ?? Date.now;
    this.#onSecretGenerated = options.onSecretGenerated;
  }

  /** The current state (a copy). Throws AuthStoreUnavailable. */
  async read(): Promise<AuthState> {
    const state = await this.#current();
    if (state !== null) return structuredClone(state);
    // first run (or a secret to add): create under the lock so two first requests agree
    return this.#locked(async () => structuredClone(await this.#currentOrCreate()));
  }

  /** Null when usable, else why not (for health checks). */
  async problem(): Promise<AuthStoreUnavailable | null> {
    try {
      await this.read();
      return null;
    } catch (error) {
      if (error instanceof AuthStoreUnavailable) return error;
      throw error;
    }
  }

  /**
   * Read-modify-write under the lock: `change` edits a fresh copy and returns a result; the file is
   * written only if the copy changed. If `change` throws, nothing is written.
   */
  update<T>(change: (draft: AuthState) => T | Promise<T>): Promise<T> {
    return this.#locked(async () => {
      const state = await this.#currentOrCreate();
      const draft = structuredClone(state);
      const result = await change(draft);
      this.#pruneRevocations(draft);
      if (JSON.stringify(draft) !== JSON.stringify(state)) await this.#write(draft);
      return result;
    });
  }

  #locked<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  #pruneRevocations(draft: AuthState): void {
    const nowSeconds = Math.floor(this.#now() / 1000);
    draft.revoked_jtis = draft.revoked_jtis.filter((r) => r.expires_at > nowSeconds);
  }

  /** The cached state if the file is unchanged, a reloaded one if it changed; null if it must be created. */
  async #current(): Promise<AuthState | null> {
    let signature: string;
    try {
      const info = await stat(this.path);
      signature = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !this.#seen) return null;
      if (code === 'ENOENT') {
        throw new AuthStoreUnavailable(this.path, 'it was removed while the monitor was running; restore it, or restart the monitor to start unconfigured');
      }
      throw new AuthStoreUnavailable(this.path, `cannot read it: ${code ?? 'error'}`, { cause: error });
    }
    this.#seen = true;
    const cached = this.#snapshot;
    if (cached && cached.signature === signature) {
      if (cached.error) throw cached.error;
      return usable(cached.state);
    }
    const snapshot: Snapshot = { signature, state: null, error: null };
    try {
      snapshot.state = this.#parse(await readFile(this.path, 'utf8'));
    } catch (error) {
      snapshot.error =
        error instanceof AuthStoreUnavailable
          ? error
          : new AuthStoreUnavailable(this.path, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
    this.#snapshot = snapshot;
    if (snapshot.error) throw snapshot.error;
    return usable(snapshot.state);
  }

  async #currentOrCreate(): Promise<AuthState> {
    const state = await this.#current();
    if (state !== null) return state;
    const existing = this.#snapshot?.state;
    const fresh: AuthState = existing ? structuredClone(existing) : this.#parse('{}');
    const reason = !existing ? 'new_file' : existing.jwt_secret === '' ? 'missing' : existing.jwt_secret.length < MIN_JWT_SECRET_LENGTH ? 'too_short' : 'weak';
    fresh.jwt_secret = newJwtSecret();
    await this.#write(fresh);
    this.#onSecretGenerated?.(reason);
    return fresh;
  }

  /** Never echoes file content: JSON.parse messages quote it, and it holds secrets. */
  #parse(text: string): AuthState {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AuthStoreUnavailable(this.path, 'it is not valid JSON');
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new AuthStoreUnavailable(this.path, 'it must hold a JSON object');
    }
    const result = authFileSchema.safeParse(raw);
    if (!result.success) {
      const issues = result.error.issues.slice(0, 3).map(describeIssue).join('; ');
      throw new AuthStoreUnavailable(this.path, issues);
    }
    const state: AuthState = { ...result.data, jwt_secret: result.data.jwt_secret ?? '' };
    if (state.enabled && !hasCredentials(state)) {
      throw new AuthStoreUnavailable(this.path, 'enabled is true but username or password_hash is empty');
    }
    if (state.password_hash !== null) {
      const problem = hashFormatProblem(state.password_hash);
      if (problem !== null) throw new AuthStoreUnavailable(this.path, `password_hash: ${problem}`);
    }
    if (state.totp_enabled && state.totp_secret === null) {
      throw new AuthStoreUnavailable(this.path, 'totp_enabled is true but totp_secret is empty');
    }
    return state;
  }

  async #write(state: AuthState): Promise<void> {
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
      const info = await stat(this.path);
      this.#snapshot = { signature: `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`, state: structuredClone(state), error: null };
      this.#seen = true;
    } catch (error) {
      throw new AuthStoreUnavailable(this.path, `cannot save it: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { cause: error });
    }
  }
}
