import { watch, type FSWatcher } from 'node:fs';
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Document } from 'yaml';
import { GatehouseError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { credentialDirectoryWarnings, credentialFileWarnings } from '../../lib/file-permissions.ts';
import { DEFAULT_ARGON2_PARAMS, hashPassword, needsRehash, strongestArgon2Params, verifyPassword as verifyHash, type Argon2Params } from '../../lib/password-hash.ts';
import { InvalidUserInputError, unreadableUsersFile, UserExistsError, UserNotFoundError, UsersFileError, UsersNotEmptyError } from './errors.ts';
import {
  EMPTY_USERS_FILE,
  hasControlCharacters,
  isEmailAddress,
  isGroupName,
  USERNAME_PATTERN,
  addUserToDocument,
  deleteUserFromDocument,
  loadUsersText,
  logUsersWarnings,
  renameUserInDocument,
  renderUsersDocument,
  setPasswordInDocument,
  userNameKey,
  type UserRecord,
  type UsersDatabase,
  type UsersSearchOptions,
} from './users-file.ts';
import type { ListedUser, NewUser, UserAdmin, UserDetails, UserProvider } from './provider.ts';
import { readUsersFile } from './read-users-file.ts';

export interface FileUserProviderOptions {
  path: string;
  watch: boolean;
  /** Create an empty users file when there is none (the default); false: a missing file is an error. */
  create?: boolean;
  search?: UsersSearchOptions;
  password?: { algorithm: 'argon2'; argon2: Argon2Params; rehash_on_login?: boolean };
  logger: Logger;
  /** Checks a password against a stored hash (tests count or hold the calls); lib/password-hash's by default. */
  verifyPassword?: PasswordVerifier;
  /** Runs after a re-hash read the file and before it writes it (tests: an outside edit lands in between). */
  beforeRehashWrite?: () => Promise<void>;
}

export type PasswordVerifier = (encoded: string, password: string) => Promise<boolean>;

export type FileReloadResult =
  | { status: 'loaded'; users: number }
  | { status: 'unchanged'; users: number }
  | { status: 'rejected'; error: UsersFileError };

const RELOAD_DEBOUNCE_MS = 200;

/**
 * Users from an Authelia-format YAML file, held in memory: reloaded when it changes, edited with atomic
 * writes. Build it with `openUsers` (users/open.ts), which puts the details cache in front.
 */
export class FileUserProvider implements UserProvider, UserAdmin {
  readonly path: string;
  readonly #search: UsersSearchOptions;
  readonly #argon2: Argon2Params;
  readonly #logger: Logger;
  /** The dummy's hash, made for the users loaded now (see #dummyHash). */
  #dummy: { db: UsersDatabase; params: string; hash: Promise<string> } | null = null;
  readonly #verify: PasswordVerifier;
  #rehashOnLogin: boolean;
  readonly #beforeRehashWrite: () => Promise<void>;
  #db: UsersDatabase;
  #text: string;
  #lock: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #listeners: Array<() => void> = [];

  private constructor(
    path: string,
    search: UsersSearchOptions,
    argon2: Argon2Params,
    logger: Logger,
    text: string,
    db: UsersDatabase,
    checks: { verify: PasswordVerifier; rehashOnLogin: boolean; beforeRehashWrite?: () => Promise<void> },
  ) {
    this.#beforeRehashWrite = checks.beforeRehashWrite ?? (async () => {});
    this.path = path;
    this.#verify = checks.verify;
    this.#rehashOnLogin = checks.rehashOnLogin;
    this.#search = search;
    this.#argon2 = argon2;
    this.#logger = logger;
    this.#text = text;
    this.#db = db;
  }

  /**
   * Load the file (creating an empty one if missing, unless `create` is false); throws UsersFileError if
   * it cannot be read or is malformed. Its permissions are startupCheck's to report.
   */
  static async open(options: FileUserProviderOptions): Promise<FileUserProvider> {
    const path = resolve(options.path);
    const search = options.search ?? { email: false, case_insensitive: false };
    const argon2 = options.password?.argon2 ?? { ...DEFAULT_ARGON2_PARAMS };
    const { logger } = options;

    const text = await (options.create === false ? readUsersFile(path) : readOrCreate(path, logger)).catch((error: unknown) => {
      throw unreadableUsersFile(path, error);
    });
    const { db } = loadUsersText(text, path, search);
    const rehashOnLogin = options.password?.rehash_on_login ?? true;
    const provider = new FileUserProvider(path, search, argon2, logger, text, db, {
      verify: options.verifyPassword ?? verifyHash,
      rehashOnLogin,
      ...(options.beforeRehashWrite ? { beforeRehashWrite: options.beforeRehashWrite } : {}),
    });
    await provider.#dummyHash();
    if (options.watch) provider.#startWatching();
    logger.info({ path, users: db.users.size }, 'users file loaded');
    logUsersWarnings(logger, path, db);
    return provider;
  }

  /**
   * The file as it is on disk now: readable and valid (else UsersFileError naming every problem), and,
   * as it holds every password hash, neither it nor the folder it can be replaced in open to others
   * (warnings, as for every credential file).
   */
  async startupCheck(): Promise<void> {
    const text = await readUsersFile(this.path).catch((error: unknown) => {
      throw unreadableUsersFile(this.path, error);
    });
    loadUsersText(text, this.path, this.#search);
    for (const warning of [...credentialFileWarnings([this.path]), ...credentialDirectoryWarnings([this.path])]) {
      this.#logger.warn({ path: this.path }, `permissions: ${warning}`);
    }
  }

  async verifyPassword(login: string, password: string): Promise<UserDetails | null> {
    const record = this.#findLogin(this.#db, login);
    if (record === undefined || record.disabled || password.length === 0) {
      await this.#verify(await this.#dummyHash(), password).catch(() => false);
      return null;
    }
    let ok: boolean;
    try {
      ok = await this.#verify(record.passwordHash, password);
    } catch (error) {
      // deny: the hash passed validation at load, so this is unexpected; the operator needs to see it
      this.#logger.error({ err: error, path: this.path, user: record.details.username }, 'password check failed');
      return null;
    }
    if (!ok) return null;
    if (this.#rehashOnLogin && needsRehash(record.passwordHash, this.#argon2)) return this.#rehash(record, password);
    return record.details;
  }

  /**
   * Replaces a legacy or weaker hash with one made with the configured parameters, now that the
   * password is known: the time a login takes then no longer tells this user from an unknown one.
   * Written only if the file still holds the hash just checked and nobody edited it between our read
   * and our write (an operator's edit wins; the re-hash waits for the next login). The new hash is a
   * new credential stamp, so the details returned carry it (the session made now stays valid; older
   * sessions of this user end once, as after a password change). Any failure keeps the login and the
   * old hash; a read-only file turns re-hashing off for the process.
   */
  async #rehash(record: UserRecord, password: string): Promise<UserDetails | null> {
    const username = record.details.username;
    try {
      const passwordHash = await hashPassword(password, this.#argon2);
      const db = await this.#mutate(
        (doc, current) => {
          const now = current.users.get(username);
          if (now?.passwordHash !== record.passwordHash) throw new StaleHash(now);
          setPasswordInDocument(doc, username, passwordHash);
        },
        { unchangedSinceRead: true },
      );
      const from = hashScheme(record.passwordHash);
      this.#logger.info(
        { audit: true, event: 'users.password_rehashed', user: username, from, path: this.path },
        `users file: upgraded the password hash of '${username}' from ${from} to argon2id with the configured parameters`,
      );
      return db.users.get(username)?.details ?? record.details;
    } catch (error) {
      if (error instanceof StaleHash) {
        // someone else changed the hash meanwhile (another login's re-hash, a new password): the
        // session must carry the current credential's stamp, so the password is checked against it
        const current = error.current;
        if (current === undefined || current.disabled) return null;
        const ok = await this.#verify(current.passwordHash, password).catch(() => false);
        return ok ? current.details : null;
      }
      if (error instanceof FileChangedMeanwhile) {
        this.#logger.debug({ path: this.path, user: username }, 'users file: changed while re-hashing; the re-hash waits for the next login');
        return record.details;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
        this.#rehashOnLogin = false;
        this.#logger.warn(
          { err: error, path: this.path },
          `users file: cannot write it (${code}); re-hashing on login is off until restart (set authentication_backend.file.password.rehash_on_login: false to say so)`,
        );
        return record.details;
      }
      this.#logger.warn({ err: error, path: this.path, user: username }, 'users file: could not upgrade the password hash; the old one stays');
      return record.details;
    }
  }

  /**
   * Unknown and disabled users are checked against this hash, made with the configured parameters
   * or, where a user's argon2 hash is stronger, with its: a failed login costs at least what any
   * user's costs, without weakening anyone's hash (weaker and legacy hashes are re-hashed on login).
   * Made again when the users loaded change the parameters.
   */
  #dummyHash(): Promise<string> {
    if (this.#dummy?.db === this.#db) return this.#dummy.hash;
    const params = strongestArgon2Params(this.#argon2, [...this.#db.users.values()].map((record) => record.passwordHash));
    const key = JSON.stringify(params);
    if (this.#dummy?.params === key) {
      this.#dummy.db = this.#db;
    } else {
      const hash = hashPassword(randomBytes(18).toString('base64'), params);
      this.#dummy = { db: this.#db, params: key, hash };
      // a failure is not kept: the next check tries again
      hash.catch(() => {
        if (this.#dummy?.hash === hash) this.#dummy = null;
      });
    }
    return this.#dummy.hash;
  }

  /** The users are in memory: always known at once. */
  peekDetails(username: string): UserDetails | null {
    const record = this.#db.byName.get(userNameKey(username, this.#search));
    return record === undefined || record.disabled ? null : record.details;
  }

  async getDetails(username: string): Promise<UserDetails | null> {
    return this.peekDetails(username);
  }

  async resolveLogin(login: string): Promise<string | null> {
    return this.#findLogin(this.#db, login)?.details.username ?? null;
  }

  /**
   * The name as written in the file (disabled users included) of the account `name` names as a login
   * does (in any case with search.case_insensitive, its e-mail with search.email), or null if none:
   * every `gatehouse users` command matches names as the login form does.
   */
  canonicalUsername(name: string): string | null {
    if (this.#db.users.has(name)) return name;
    return this.#findLogin(this.#db, name)?.details.username ?? null;
  }

  /**
   * Throws as addUser and renameUser refuse `name` (UserExistsError, InvalidUserInputError), against the
   * file as last read; `except`: the user being renamed. Those two check again under the file's lock.
   */
  refuseTakenName(name: string, except?: string): void {
    this.#refuseTakenName(this.#db, name, except);
  }

  /** Every user, disabled ones included, in file order. */
  listUsers(): ListedUser[] {
    return [...this.#db.users.values()].map(({ details: { credentialStamp: _stamp, ...details }, disabled, hashProblem }) =>
      hashProblem === undefined ? { ...details, disabled } : { ...details, disabled, unreadableHash: true as const });
  }

  /** Re-read the file now (the watcher and SIGHUP use this); a malformed file keeps the last good users. */
  reload(): Promise<FileReloadResult> {
    return this.#withLock(() => this.#reloadNow());
  }

  /** `onlyIfEmpty`: refuse (UsersNotEmptyError) unless the file, read under the lock, has no user (first-run setup). */
  async addUser(user: NewUser, options: { onlyIfEmpty?: boolean } = {}): Promise<UserDetails> {
    const entry = validateNewUser(user);
    const passwordHash = await hashPassword(user.password, this.#argon2);
    const db = await this.#mutate((doc, current) => {
      if (options.onlyIfEmpty && current.users.size > 0) throw new UsersNotEmptyError(this.path);
      this.#refuseTakenName(current, user.username);
      addUserToDocument(doc, user.username, { ...entry, password: passwordHash });
    });
    return db.users.get(user.username)!.details;
  }

  /** Renames `username`'s entry (hash, groups, e-mail, display name kept); `newName` is refused as addUser refuses it. */
  async renameUser(username: string, newName: string): Promise<UserDetails> {
    validateNewUser({ username: newName, password: '' });
    const db = await this.#mutate((doc, current) => {
      const from = this.#canonicalName(current, username);
      this.#refuseTakenName(current, newName, from);
      renameUserInDocument(doc, from, newName);
    });
    return db.users.get(newName)!.details;
  }

  /** A name taken in any case (or, with search.email, another user's e-mail) is refused; `except`: the user being renamed. */
  #refuseTakenName(current: UsersDatabase, name: string, except?: string): void {
    // a name differing only in case is refused too: it would break the file once search.case_insensitive is on
    const taken = [...current.users.keys()].find((other) => other !== except && other.toLowerCase() === name.toLowerCase());
    if (taken !== undefined) throw new UserExistsError(taken);
    // with search.email an address logs in as its owner: a user named like it could never sign in
    const owner = this.#search.email ? current.byEmail.get(name.toLowerCase()) : undefined;
    if (owner !== undefined && owner.details.username !== except) throw new InvalidUserInputError(`'${name}' is the e-mail of user '${owner.details.username}': with search.email on, a username must not be another user's e-mail`);
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async updatePassword(username: string, password: string): Promise<void> {
    const passwordHash = await hashPassword(password, this.#argon2);
    await this.#mutate((doc, current) => setPasswordInDocument(doc, this.#canonicalName(current, username), passwordHash));
  }

  async deleteUser(username: string): Promise<void> {
    await this.#mutate((doc, current) => deleteUserFromDocument(doc, this.#canonicalName(current, username)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    this.#debounce = null;
    await this.#lock;
  }

  #findLogin(db: UsersDatabase, login: string): UserRecord | undefined {
    return db.byName.get(userNameKey(login, this.#search)) ?? (this.#search.email ? db.byEmail.get(login.toLowerCase()) : undefined);
  }

  #canonicalName(db: UsersDatabase, username: string): string {
    if (db.users.has(username)) return username;
    const record = this.#search.case_insensitive ? db.byName.get(userNameKey(username, this.#search)) : undefined;
    if (record === undefined) throw new UserNotFoundError(username);
    return record.details.username;
  }

  /**
   * Serialised: re-read the file, edit it, refuse to write anything we would not load, write atomically
   * to the file itself (through a symlink, not over it). `unchangedSinceRead`: read the file again just
   * before writing and give up (FileChangedMeanwhile) if someone else edited it in between.
   */
  #mutate(edit: (doc: Document, current: UsersDatabase) => void, options: { unchangedSinceRead?: boolean } = {}): Promise<UsersDatabase> {
    return this.#withLock(async () => {
      const read = () =>
        readUsersFile(this.path).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return EMPTY_USERS_FILE;
          throw error;
        });
      const text = await read();
      const { doc, db } = loadUsersText(text, this.path, this.#search);
      edit(doc, db);
      const next = renderUsersDocument(doc);
      const { db: nextDb } = loadUsersText(next, this.path, this.#search);
      if (options.unchangedSinceRead) {
        await this.#beforeRehashWrite();
        if ((await read()) !== text) throw new FileChangedMeanwhile();
      }
      const target = await realpath(this.path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return this.path;
        throw error;
      });
      await writeFileAtomic(target, next, 0o600);
      this.#db = nextDb;
      this.#text = next;
      this.#changed();
      return nextDb;
    });
  }

  async #reloadNow(): Promise<FileReloadResult> {
    let text: string;
    try {
      text = await readUsersFile(this.path);
    } catch (error) {
      return this.#rejectReload(unreadableUsersFile(this.path, error));
    }
    if (text === this.#text) return { status: 'unchanged', users: this.#db.users.size };
    try {
      const { db } = loadUsersText(text, this.path, this.#search);
      this.#db = db;
      this.#text = text;
      this.#changed();
      this.#logger.info({ path: this.path, users: db.users.size }, 'users file reloaded');
      logUsersWarnings(this.#logger, this.path, db);
      return { status: 'loaded', users: db.users.size };
    } catch (error) {
      if (error instanceof UsersFileError) return this.#rejectReload(error);
      throw error;
    }
  }

  /** The users in memory changed: whoever caches them drops what they hold. */
  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  #rejectReload(error: UsersFileError): FileReloadResult {
    this.#logger.error(
      { path: this.path, problems: error.problems, users: this.#db.users.size },
      'users file rejected; keeping the last good version',
    );
    return { status: 'rejected', error };
  }

  #withLock<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** Watch the directory, not the file: editors and writeFileAtomic replace the file by rename. */
  #startWatching(): void {
    const file = basename(this.path);
    this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
      // `..data` is how Kubernetes swaps a mounted ConfigMap or Secret
      if (filename === null || filename === file || filename.startsWith('..')) this.#scheduleReload();
    });
    this.#watcher.on('error', (error) => {
      this.#logger.error({ err: error, path: this.path }, 'users file watcher stopped; changes need a restart or SIGHUP');
    });
  }

  #scheduleReload(): void {
    if (this.#closed) return;
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      if (this.#closed) return;
      this.reload().catch((error: unknown) => {
        this.#logger.error({ err: error, path: this.path }, 'users file reload failed; keeping the last good version');
      });
    }, RELOAD_DEBOUNCE_MS);
    this.#debounce.unref();
  }
}

/** `bcrypt`, `pbkdf2-sha512`, `pbkdf2_sha256`, `argon2id` (weaker parameters): for the log, never the hash itself. */
function hashScheme(encoded: string): string {
  const scheme = encoded.startsWith('$') ? (encoded.split('$')[1] ?? '') : (encoded.split('$')[0] ?? '');
  return /^2[aby]$/.test(scheme) ? 'bcrypt' : scheme;
}

/** The users file changed under a re-hash: someone else set a password meanwhile, theirs wins. */
class StaleHash extends GatehouseError {
  declare readonly code: 'internal_stale_hash';
  readonly current: UserRecord | undefined;
  constructor(current: UserRecord | undefined) {
    super('internal_stale_hash', 'the password hash changed meanwhile');
    this.current = current;
  }
}

/** Someone edited the users file between a re-hash's read and its write: their edit wins. */
class FileChangedMeanwhile extends GatehouseError {
  declare readonly code: 'internal_users_file_changed';
  constructor() {
    super('internal_users_file_changed', 'the users file changed between the re-hash\'s read and its write');
  }
}

async function readOrCreate(path: string, logger: Logger): Promise<string> {
  try {
    return await readUsersFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, EMPTY_USERS_FILE, { flag: 'wx', mode: 0o600 }); // wx: never clobber a file created meanwhile
    logger.warn({ path }, 'users file did not exist: created an empty one; add a user with `gatehouse users add NAME`');
    return EMPTY_USERS_FILE;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (code !== 'EEXIST') throw new UsersFileError(path, [`it does not exist, and creating an empty one failed (${code})`], { cause: error });
    return readUsersFile(path);
  }
}

function validateNewUser(user: NewUser): { displayname: string; email?: string; groups: string[] } {
  if (!USERNAME_PATTERN.test(user.username)) {
    throw new InvalidUserInputError(`invalid username '${user.username}': use 1–64 letters, digits, '.', '_', '@' or '-'`);
  }
  const displayname = user.displayName ?? user.username;
  if (displayname.length === 0 || displayname.length > 256 || hasControlCharacters(displayname)) {
    throw new InvalidUserInputError('invalid display name: use 1–256 characters without control characters');
  }
  if (user.email !== undefined && !isEmailAddress(user.email)) {
    throw new InvalidUserInputError(`invalid e-mail address '${user.email}'`);
  }
  const groups = user.groups ?? [];
  for (const group of groups) {
    if (!isGroupName(group)) {
      throw new InvalidUserInputError(`invalid group name '${group}': it must be non-empty, without commas or control characters`);
    }
  }
  return user.email === undefined ? { displayname, groups } : { displayname, email: user.email, groups };
}
