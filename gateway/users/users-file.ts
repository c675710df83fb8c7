import { createHash } from 'node:crypto';
import { Document, isMap, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';
import type { Logger } from 'pino';
import { z } from 'zod';
import { hashFormatProblem } from '../../lib/password-hash.ts';
import { UserNotFoundError, UsersFileError } from './errors.ts';
import { extraValueProblems, type ExtraAttribute } from './extra-attributes.ts';
import { USER_ADDRESS_FIELDS, USER_TEXT_ATTRIBUTES, type UserAttributes, type UserDetails } from './provider.ts';

/**
 * Authelia's `authentication_backend.file.search`, and the declared `extra_attributes` (every reading of
 * the file takes both).
 */
export interface UsersSearchOptions {
  email: boolean;
  case_insensitive: boolean;
  extra_attributes?: Readonly<Record<string, ExtraAttribute>>;
}

export interface UserRecord {
  details: Readonly<UserDetails>;
  passwordHash: string;
  /** `disabled: true` in the file, or a password hash no algorithm here can read (`hashProblem`). */
  disabled: boolean;
  /** Why the stored hash cannot be checked; such a user is disabled until it is replaced. */
  hashProblem?: string;
}

/** One validated version of the users file, indexed for O(1) lookups. */
export interface UsersDatabase {
  /** Canonical username (the YAML key) → record, in file order. */
  users: Map<string, UserRecord>;
  /** userNameKey(username) → record. */
  byName: Map<string, UserRecord>;
  /** Lower-cased e-mail → record; filled only when search.email is on. */
  byEmail: Map<string, UserRecord>;
  /** What the operator should hear about at load (users disabled for a hash no algorithm here reads). */
  warnings: Array<{ user: string; message: string }>;
}

/** Usernames that `gatehouse users add` accepts. */
export const USERNAME_PATTERN = /^[a-zA-Z0-9._@-]{1,64}$/;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const EMAIL_PATTERN = /^[^\s@,]+@[^\s@,]+$/;

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

export function isEmailAddress(value: string): boolean {
  return EMAIL_PATTERN.test(value) && !CONTROL_CHARACTERS.test(value);
}

/** A comma would split the group in two in the comma-joined Remote-Groups header. */
export function isGroupName(value: string): boolean {
  return value.length > 0 && !value.includes(',') && !CONTROL_CHARACTERS.test(value);
}

/** The key a login name is looked up under: case-folded when search.case_insensitive is on. */
export function userNameKey(name: string, search: UsersSearchOptions): string {
  return search.case_insensitive ? name.toLowerCase() : name;
}

/** zod error messages in the users-file style: `required` when absent, `must be …` when of the wrong kind. */
function mustBe(what: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? 'required' : `must be ${what}`) };
}

const groupName = z
  .string(mustBe('a group name'))
  .refine(isGroupName, {
    message: 'must be a non-empty group name without commas or control characters',
  });

/**
 * An optional text attribute. YAML reads `phone_number: 5551234` as a number and `locale: no` stays a
 * string in YAML 1.2; Authelia (Go's yaml) reads any scalar into a string field, so do we.
 */
const textAttribute = z
  .union([z.string(), z.number(), z.boolean()], mustBe('a string'))
  .transform(String)
  .refine((value) => !CONTROL_CHARACTERS.test(value), { message: 'must not contain control characters' })
  .nullish();

const attributeShape = Object.fromEntries(USER_TEXT_ATTRIBUTES.map((name) => [name, textAttribute])) as Record<
  (typeof USER_TEXT_ATTRIBUTES)[number],
  typeof textAttribute
>;
const addressSchema = z
  .looseObject(
    Object.fromEntries(USER_ADDRESS_FIELDS.map((name) => [name, textAttribute])) as Record<(typeof USER_ADDRESS_FIELDS)[number], typeof textAttribute>,
    mustBe('a mapping with street_address, locality, region, postal_code and country'),
  )
  .nullish();
const extraSchema = z.record(z.string(), z.unknown(), mustBe('a mapping of attribute names to values')).nullish();

/** What a user entry may say; other keys are kept in the file and ignored, as Authelia ignores them. */
const userEntrySchema = z.looseObject(
  {
    displayname: z
      .string(mustBe('a string'))
      .refine((value) => !CONTROL_CHARACTERS.test(value), { message: 'must not contain control characters' })
      .nullish(),
    // a hash no algorithm here reads disables its user with a warning (toRecord), not the whole file
    password: z.string(mustBe('a password hash (make one with `gatehouse hash-password`)')),
    email: z
      .custom<string | string[] | null>()
      .superRefine((value, ctx) => {
        if (value == null || (typeof value === 'string' && isEmailAddress(value))) return;
        if (!Array.isArray(value)) {
          ctx.addIssue({ code: 'custom', message: 'must be an e-mail address or a list of e-mail addresses' });
          return;
        }
        value.forEach((item: unknown, index) => {
          if (typeof item !== 'string' || !isEmailAddress(item)) {
            ctx.addIssue({ code: 'custom', message: 'must be an e-mail address', path: [index] });
          }
        });
      })
      .optional(),
    groups: z.array(groupName, mustBe('a list of group names')).nullish(),
    disabled: z.boolean(mustBe('true or false')).nullish(),
    ...attributeShape,
    address: addressSchema,
    extra: extraSchema,
  },
  mustBe('a mapping with displayname, password, email and groups'),
);

const usersFileSchema = z.looseObject(
  {
    users: z.preprocess(
      (value) => (value === null ? {} : value), // `users:` with nothing under it is an empty database
      z.record(z.string(), userEntrySchema, mustBe('a mapping of usernames to users')),
    ),
  },
  { error: () => "must be a mapping with a 'users' key at the top level" },
);

type UserEntry = z.infer<typeof userEntrySchema>;

/** Parse YAML text without validating it; throws UsersFileError on syntax errors. */
export function parseUsersYaml(text: string, path: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new UsersFileError(
      path,
      doc.errors.map((error) => `yaml: ${(error.message.split('\n')[0] ?? error.message).replace(/:$/, '')}`),
    );
  }
  return doc;
}

/** Validate a parsed users file and index it; throws UsersFileError naming every problem. */
export function buildUsersDatabase(doc: Document, path: string, search: UsersSearchOptions): UsersDatabase {
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }); // the alias cap stops "billion laughs" expansion
  } catch (error) {
    throw new UsersFileError(path, [`yaml: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
  }
  const problems: string[] = [];
  const result = usersFileSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(formatIssue(issue.path, issue.message));
  }
  const rawUsers = isPlainObject(raw) && isPlainObject(raw['users']) ? raw['users'] : {};
  problems.push(...crossUserProblems(rawUsers, search));
  if (result.success) {
    for (const [username, entry] of Object.entries(result.data.users)) {
      for (const [name, message] of extraValueProblems(entry.extra ?? {}, search.extra_attributes ?? {})) problems.push(formatIssue(['users', username, 'extra', name], message));
    }
  }
  if (problems.length > 0 || !result.success) throw new UsersFileError(path, problems);

  const db: UsersDatabase = { users: new Map(), byName: new Map(), byEmail: new Map(), warnings: [] };
  for (const [username, entry] of Object.entries(result.data.users)) {
    const record = toRecord(username, entry);
    if (record.hashProblem !== undefined) {
      db.warnings.push({
        user: username,
        message: `${formatPath(['users', username, 'password'])}: ${record.hashProblem}; the user is disabled until the password is set again (\`gatehouse users passwd ${username}\`)`,
      });
    }
    db.users.set(username, record);
    db.byName.set(userNameKey(username, search), record);
    if (search.email) for (const email of record.details.emails) db.byEmail.set(email.toLowerCase(), record);
  }
  return db;
}

/** One warning per user the file holds but cannot sign in (a hash no algorithm here reads), naming them. */
export function logUsersWarnings(logger: Logger, path: string, db: UsersDatabase): void {
  for (const { user, message } of db.warnings) logger.warn({ path, user }, `users file: ${message}`);
}

/** Parse and validate in one step. */
export function loadUsersText(text: string, path: string, search: UsersSearchOptions): { doc: Document; db: UsersDatabase } {
  const doc = parseUsersYaml(text, path);
  return { doc, db: buildUsersDatabase(doc, path, search) };
}

/** The file Gatehouse writes when none exists. */
export const EMPTY_USERS_FILE = [
  '# Gatehouse users (Authelia users_database.yml format).',
  '# Add a user with: gatehouse users add NAME --email E --group G',
  'users: {}',
  '',
].join('\n');

export interface NewUserEntry {
  displayname: string;
  password: string;
  email?: string;
  groups: string[];
}

/** Add a user entry to the document's `users` mapping (the caller checked it does not exist). */
export function addUserToDocument(doc: Document, username: string, entry: NewUserEntry): void {
  const users = usersMap(doc);
  const value: Record<string, unknown> = { disabled: false, displayname: entry.displayname, password: entry.password };
  if (entry.email !== undefined) value['email'] = entry.email;
  value['groups'] = entry.groups;
  const node = doc.createNode(value) as YAMLMap;
  const password = node.get('password', true);
  if (isScalar(password)) password.type = 'QUOTE_DOUBLE'; // as Authelia's docs write hashes
  users.add(doc.createPair(username, node));
}

/** Replace one user's password hash, keeping the scalar's style and comments. */
export function setPasswordInDocument(doc: Document, username: string, passwordHash: string): void {
  const pair = findUserPair(usersMap(doc), username);
  if (pair === undefined || !isMap(pair.value)) throw new UserNotFoundError(username);
  const current = pair.value.get('password', true);
  if (isScalar(current)) current.value = passwordHash;
  else pair.value.set('password', passwordHash);
}

/** Remove one user's entry. */
export function deleteUserFromDocument(doc: Document, username: string): void {
  const users = usersMap(doc);
  const pair = findUserPair(users, username);
  if (pair === undefined) throw new UserNotFoundError(username);
  users.items.splice(users.items.indexOf(pair), 1);
}

/** Rename one user's entry in place (its hash, groups, comments and position stay). */
export function renameUserInDocument(doc: Document, username: string, newName: string): void {
  const pair = findUserPair(usersMap(doc), username);
  if (pair === undefined) throw new UserNotFoundError(username);
  if (isScalar(pair.key)) pair.key.value = newName;
  else pair.key = doc.createNode(newName);
}

export function renderUsersDocument(doc: Document): string {
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function usersMap(doc: Document): YAMLMap {
  let users = doc.get('users', true);
  if (!isMap(users)) {
    users = doc.createNode({}) as YAMLMap;
    doc.set('users', users);
  }
  const map = users as YAMLMap;
  map.flow = false; // `users: {}` from a fresh file would otherwise grow as one long flow line
  return map;
}

function findUserPair(users: YAMLMap, username: string): Pair | undefined {
  return (users.items as Pair[]).find((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key) === username);
}

function toRecord(username: string, entry: UserEntry): UserRecord {
  const emails = entry.email == null ? [] : Array.isArray(entry.email) ? entry.email : [entry.email];
  const details: UserDetails = Object.freeze({
    username,
    displayName: entry.displayname ?? username,
    emails: Object.freeze([...emails]) as string[],
    groups: Object.freeze([...(entry.groups ?? [])]) as string[],
    // a digest of the stored hash: it changes with the password, and reveals nothing about it
    credentialStamp: createHash('sha256').update(`gatehouse-credential:${username}:${entry.password}`).digest('base64url').slice(0, 22),
    ...attributesOf(entry),
  });
  const hashProblem = hashFormatProblem(entry.password);
  return {
    details,
    passwordHash: entry.password,
    disabled: entry.disabled === true || hashProblem !== null,
    ...(hashProblem === null ? {} : { hashProblem }),
  };
}

/** The entry's extra attributes, frozen, or nothing when it has none (most users files). */
function attributesOf(entry: UserEntry): { attributes?: Readonly<UserAttributes> } {
  const attributes: UserAttributes = {};
  for (const name of USER_TEXT_ATTRIBUTES) {
    const value = entry[name];
    if (value != null && value !== '') attributes[name] = value;
  }
  if (entry.address != null) {
    const address: { -readonly [K in (typeof USER_ADDRESS_FIELDS)[number]]?: string } = {};
    for (const name of USER_ADDRESS_FIELDS) {
      const value = entry.address[name];
      if (value != null && value !== '') address[name] = value;
    }
    if (Object.keys(address).length > 0) attributes.address = Object.freeze(address);
  }
  if (entry.extra != null && Object.keys(entry.extra).length > 0) attributes.extra = deepFreeze(structuredClone(entry.extra));
  return Object.keys(attributes).length === 0 ? {} : { attributes: Object.freeze(attributes) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Problems no single entry shows: names that collide under the configured search rules. */
function crossUserProblems(users: Record<string, unknown>, search: UsersSearchOptions): string[] {
  const problems: string[] = [];
  const names = new Map<string, string>();
  for (const username of Object.keys(users)) {
    if (username.length === 0 || username.length > 255 || /\s/.test(username) || CONTROL_CHARACTERS.test(username)) {
      problems.push(`${formatPath(['users', username])}: a username must be 1–255 characters without spaces or control characters`);
      continue;
    }
    const key = userNameKey(username, search);
    const other = names.get(key);
    if (other !== undefined) {
      problems.push(`${formatPath(['users', username])}: same name as '${other}' (search.case_insensitive is on)`);
    } else {
      names.set(key, username);
    }
  }
  if (!search.email) return problems;
  const owners = new Map<string, string>();
  for (const [username, entry] of Object.entries(users)) {
    if (!isPlainObject(entry)) continue;
    const email = entry['email'];
    const emails = typeof email === 'string' ? [email] : Array.isArray(email) ? email.filter((e) => typeof e === 'string') : [];
    for (const address of new Set(emails.map((e) => e.toLowerCase()))) {
      const owner = owners.get(address);
      const nameOwner = names.get(userNameKey(address, search));
      if (owner !== undefined && owner !== username) {
        problems.push(`${formatPath(['users', username, 'email'])}: '${address}' is also the e-mail of '${owner}'; with search.email an address must belong to one user`);
      } else if (nameOwner !== undefined && nameOwner !== username) {
        problems.push(`${formatPath(['users', username, 'email'])}: '${address}' is the username of '${nameOwner}'; with search.email a login name must be unambiguous`);
      } else {
        owners.set(address, username);
      }
    }
  }
  return problems;
}

function formatIssue(path: readonly PropertyKey[], message: string): string {
  return path.length === 0 ? message : `${formatPath(path)}: ${message}`;
}

/** `users.alice.groups[0]`; keys that are not plain words are quoted: `users["john.doe"].password`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(segment))) out += `${out === '' ? '' : '.'}${String(segment)}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
