import { access } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino } from 'pino';
import { formatTable, promptHidden, readFirstLine, SecretInputError, type CliIO } from '../../lib/cli-io.ts';
import { GatehouseError } from '../../lib/errors.ts';
import { hashPassword, type Argon2Params } from '../../lib/password-hash.ts';
import { hashClientSecret } from '../../lib/client-secret.ts';
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from '../../lib/password-policy.ts';
import { FileUserProvider } from './file-provider.ts';
import type { ListedUser } from './provider.ts';
import { InvalidUserInputError, UserExistsError, UserNotFoundError, UsersFileError } from './errors.ts';
import type { UsersSearchOptions } from './users-file.ts';
import type { Storage } from '../storage/storage.ts';
import type { RenamedRows } from '../storage/user-renames.ts';


const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** A command ends early with this message on stderr and this exit code. */
class CliExit extends GatehouseError {
  declare readonly code: 'usage_error' | 'command_failed';
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(exitCode === EXIT_USAGE ? 'usage_error' : 'command_failed', message);
    this.exitCode = exitCode;
  }
}

const HASH_PASSWORD_USAGE = `Usage: gatehouse hash-password [--password-stdin] [--client-secret]

Print an argon2id hash of a password, for the 'password' field of the users file.
Without --password-stdin the password is asked twice on the terminal, without echo.

Options:
  --password-stdin   read the password from the first line of stdin
  --client-secret    print a $pbkdf2-sha512$ digest instead, for the client_secret of an
                     OpenID Connect client (identity_providers.oidc.clients[].client_secret),
                     in the format Authelia writes; give the client the secret itself
  -h, --help         show this help
`;

const USERS_USAGE = `Usage: gatehouse users <command> [options]

Manage the users file (authentication_backend.file.path). A running gateway
picks up the changes by itself when watching is on.

Commands:
  add NAME         add a user
  passwd NAME      set a user's password
  delete NAME      remove a user
  rename OLD NEW   rename a user (and move their data in the database)
  list             list users

NAME is matched as the login form matches it: in any case with search.case_insensitive, and by
e-mail with search.email. 'add' and 'rename' refuse a name another user has in any case (or as e-mail).

Run 'gatehouse users <command> --help' for a command's options.
`;

const USAGE: Record<string, string> = {
  add: `Usage: gatehouse users add NAME [--display-name N] [--email E] [--group G]... [--password-stdin]

Add a user to the users file. NAME: 1–64 letters, digits, '.', '_', '@' or '-'.
Without --password-stdin the password is asked twice on the terminal, without echo.

Options:
  --display-name N   the name shown to people (default: NAME)
  --email E          the user's e-mail address (needed for password reset)
  --group G          a group the user is in; repeat for several groups
  --password-stdin   read the password from the first line of stdin
  -h, --help         show this help
`,
  passwd: `Usage: gatehouse users passwd NAME [--password-stdin]

Set a user's password. Without --password-stdin it is asked twice on the terminal.

Options:
  --password-stdin   read the password from the first line of stdin
  -h, --help         show this help
`,
  delete: `Usage: gatehouse users delete NAME

Remove a user from the users file.

Options:
  -h, --help         show this help
`,
  rename: `Usage: gatehouse users rename OLD NEW [--storage-only]

Rename a user in the users file and move what the database holds under the name, in one
transaction: the OpenID Connect subject (apps see the same 'sub'), consents, TOTP, security
keys, preferences and bans. Their gateway sessions end (sign in again as NEW), and their
recovery codes are deleted: they are bound to the name, so the user makes new ones.
Authentication logs keep the old name. NEW is refused as 'add' refuses it, and so is a
NEW the database still holds second factors or a subject of (a former user's).

Options:
  --storage-only     only move the database rows of OLD to NEW, when the users file already
                     names NEW because a rename of OLD stopped between the file and the
                     database (the command says so); never to merge two people
  -h, --help         show this help
`,
  list: `Usage: gatehouse users list [--json]

List the users in the users file.

Options:
  --json             print a JSON array instead of a table
  -h, --help         show this help
`,
};

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const PASSWORD_STDIN = { 'password-stdin': { type: 'boolean' } } as const;
const CLIENT_SECRET = { 'client-secret': { type: 'boolean' } } as const;

/**
 * `gatehouse hash-password`: print an argon2id hash (Authelia's default parameters), or with
 * `--client-secret` a pbkdf2-sha512 client-secret digest (lib/client-secret.ts).
 */
export async function runHashPassword(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, 'gatehouse hash-password', async () => {
    const { values, positionals } = parseCommandArgs(args, { ...HELP, ...PASSWORD_STDIN, ...CLIENT_SECRET }, HASH_PASSWORD_USAGE);
    if (values.help === true) return printHelp(io, HASH_PASSWORD_USAGE);
    if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`, HASH_PASSWORD_USAGE);
    const password = await readNewPassword(io, values['password-stdin'] === true, HASH_PASSWORD_USAGE);
    const encoded = values['client-secret'] === true ? await hashClientSecret(password) : await hashPassword(password);
    io.stdout.write(`${encoded}\n`);
    return EXIT_OK;
  });
}

/** `gatehouse users add|passwd|delete|rename|list`. */
export async function runUsers(
  args: string[],
  io: CliIO,
  usersFile: {
    path: string;
    argon2: Argon2Params;
    search?: UsersSearchOptions;
    passwordPolicy?: PasswordPolicy;
    /** opens the configured database (rename moves the user's rows) */
    storage?: () => Promise<Pick<Storage, 'exclusively' | 'close'>>;
    now?: () => number;
  },
): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') return printHelp(io, USERS_USAGE);
  if (command === undefined) {
    io.stderr.write(USERS_USAGE);
    return EXIT_USAGE;
  }
  const usage = USAGE[command];
  if (usage === undefined) {
    io.stderr.write(`gatehouse users: unknown command '${command}'\n\n${USERS_USAGE}`);
    return EXIT_USAGE;
  }
  return runCommand(io, `gatehouse users ${command}`, async () => {
    switch (command) {
      case 'add':
        return usersAdd(rest, io, usersFile, usage);
      case 'passwd':
        return usersPasswd(rest, io, usersFile, usage);
      case 'delete':
        return usersDelete(rest, io, usersFile, usage);
      case 'rename':
        return usersRename(rest, io, usersFile, usage);
      default:
        return usersList(rest, io, usersFile, usage);
    }
  });
}

type UsersFileOptions = Parameters<typeof runUsers>[2];

async function usersAdd(args: string[], io: CliIO, usersFile: UsersFileOptions, usage: string): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...HELP,
      ...PASSWORD_STDIN,
      'display-name': { type: 'string' },
      email: { type: 'string' },
      group: { type: 'string', multiple: true },
    },
    usage,
  );
  if (values.help === true) return printHelp(io, usage);
  const username = oneName(positionals, usage);
  const password = await readNewPassword(io, values['password-stdin'] === true, usage);
  checkPasswordPolicy(usersFile, password, username);
  const provider = await openProvider(usersFile, { create: true });
  try {
    await provider.addUser({
      username,
      password,
      ...(typeof values['display-name'] === 'string' ? { displayName: values['display-name'] } : {}),
      ...(typeof values.email === 'string' ? { email: values.email } : {}),
      groups: (values.group as string[] | undefined) ?? [],
    });
  } finally {
    await provider.close();
  }
  io.stdout.write(`added user '${username}' to ${provider.path}\n`);
  const forgotten = await forgetFormerUser(usersFile, username);
  if (forgotten.length > 0) {
    io.stdout.write(`the database held what a former user named '${username}' left (${forgotten.join(', ')}): forgotten, so '${username}' starts afresh (a new OpenID Connect subject, no second factors)\n`);
  }
  return EXIT_OK;
}

/**
 * A new user under a name someone had before must not inherit their OpenID Connect subject (every app
 * would take them for the former user) or their second factors. Nothing to do without a database yet.
 */
async function forgetFormerUser(usersFile: UsersFileOptions, username: string): Promise<string[]> {
  if (usersFile.storage === undefined) return [];
  let storage: Awaited<ReturnType<NonNullable<UsersFileOptions['storage']>>>;
  try {
    storage = await usersFile.storage();
  } catch (error) {
    // a database never migrated (no gateway started on it yet) holds nobody's rows
    if ((error as { code?: string }).code === 'migrations_pending') return [];
    throw error;
  }
  try {
    return await storage.exclusively([`user:${username}`], (tx) => tx.userRenames.forgetFormer(username));
  } finally {
    await storage.close();
  }
}

async function usersPasswd(args: string[], io: CliIO, usersFile: UsersFileOptions, usage: string): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...HELP, ...PASSWORD_STDIN }, usage);
  if (values.help === true) return printHelp(io, usage);
  const name = oneName(positionals, usage);
  const provider = await openProvider(usersFile, { create: false });
  let username: string;
  try {
    // fail before asking for a password the command could not use
    username = accountNamed(provider, name);
    const password = await readNewPassword(io, values['password-stdin'] === true, usage);
    checkPasswordPolicy(usersFile, password, username);
    await provider.updatePassword(username, password);
  } finally {
    await provider.close();
  }
  io.stdout.write(`changed the password of '${username}' in ${provider.path}\n`);
  return EXIT_OK;
}

async function usersDelete(args: string[], io: CliIO, usersFile: UsersFileOptions, usage: string): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, HELP, usage);
  if (values.help === true) return printHelp(io, usage);
  const name = oneName(positionals, usage);
  const provider = await openProvider(usersFile, { create: false });
  let username: string;
  try {
    username = accountNamed(provider, name);
    await provider.deleteUser(username);
  } finally {
    await provider.close();
  }
  io.stdout.write(`deleted user '${username}' from ${provider.path}\n`);
  return EXIT_OK;
}

async function usersRename(args: string[], io: CliIO, usersFile: UsersFileOptions, usage: string): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...HELP, 'storage-only': { type: 'boolean' } }, usage);
  if (values.help === true) return printHelp(io, usage);
  if (positionals.length < 2) throw usageError('rename needs OLD and NEW', usage);
  if (positionals.length > 2) throw usageError(`unexpected argument '${positionals[2]}'`, usage);
  const [oldName, newName] = positionals as [string, string];
  const storageOnly = values['storage-only'] === true;
  const provider = await openProvider(usersFile, { create: false });
  try {
    const from = storageOnly ? oldName : provider.canonicalUsername(oldName);
    const named = provider.canonicalUsername(newName);
    if (storageOnly) {
      if (named !== newName) throw new CliExit(EXIT_FAILURE, `--storage-only: the users file must name '${newName}' already; nothing was changed`);
      if (provider.canonicalUsername(oldName) !== null) throw new CliExit(EXIT_FAILURE, `--storage-only: '${oldName}' is still in the users file: run the rename without --storage-only; nothing was changed`);
    } else if (from === null) {
      const hint = named !== null ? `; if '${named}' is '${oldName}' renamed and the rename stopped before the database took it, run 'gatehouse users rename ${oldName} ${named} --storage-only'` : "; see 'gatehouse users list'";
      throw new CliExit(EXIT_FAILURE, `user '${oldName}' does not exist${hint}`);
    } else if (from === newName) {
      throw new CliExit(EXIT_FAILURE, `user '${from}' has that name already; nothing was changed`);
    } else {
      // before the database is opened; renameUser checks again under the file's lock
      try {
        provider.refuseTakenName(newName, from);
      } catch (error) {
        if (error instanceof UserExistsError || error instanceof InvalidUserInputError) throw new CliExit(EXIT_FAILURE, `${error.message}; nothing was changed`);
        throw error;
      }
    }
    if (usersFile.storage === undefined) throw new CliExit(EXIT_FAILURE, 'rename needs the storage the configuration names');
    const storage = await usersFile.storage();
    let fileWritten = false;
    let rows: RenamedRows;
    try {
      // the database moves in one transaction that commits only after the users file is written: a
      // refusal or a failed write rolls it back; only a crash between the two leaves the file ahead
      rows = await storage.exclusively([`user:${from}`, `user:${newName}`], async (tx) => {
        const former = await tx.userRenames.identityTables(newName);
        if (former.length > 0) {
          throw new CliExit(EXIT_FAILURE, `the database still holds rows of a former user '${newName}' (${former.join(', ')}): renaming onto them would mix two identities; nothing was changed`);
        }
        const moved = await tx.userRenames.move(from!, newName, (usersFile.now ?? Date.now)());
        if (!storageOnly) {
          await provider.renameUser(from!, newName);
          fileWritten = true;
        }
        return moved;
      });
    } catch (error) {
      if (!fileWritten) throw error;
      throw new CliExit(EXIT_FAILURE, `${describeFailure(error)[1]}\nthe users file names '${newName}' now but the database did not take the move: run 'gatehouse users rename ${from} ${newName} --storage-only'`);
    } finally {
      await storage.close();
    }
    io.stdout.write(`${storageOnly ? `moved the database rows of '${from}' to '${newName}'` : `renamed user '${from}' to '${newName}' in ${provider.path}`}\n${describeMove(rows)}`);
  } finally {
    await provider.close();
  }
  return EXIT_OK;
}

function describeMove(rows: RenamedRows): string {
  const moved = Object.entries(rows.moved).filter(([, count]) => count > 0).map(([table, count]) => `${table} ${count}`);
  return [
    `moved: ${moved.length === 0 ? 'nothing' : moved.join(', ')}`,
    `ended ${rows.sessionsEnded} signed-in session(s): the user signs in again with the new name`,
    ...(rows.recoveryCodesDeleted > 0 ? [`deleted ${rows.recoveryCodesDeleted} recovery code(s): they are bound to the old name; the user makes new ones in the settings`] : []),
    ...(rows.pendingRevoked > 0 ? [`revoked ${rows.pendingRevoked} pending e-mailed link(s) or code(s)`] : []),
  ].join('\n') + '\n';
}

async function usersList(args: string[], io: CliIO, usersFile: UsersFileOptions, usage: string): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...HELP, json: { type: 'boolean' } }, usage);
  if (values.help === true) return printHelp(io, usage);
  if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`, usage);
  const provider = await openProvider(usersFile, { create: false });
  const users = provider.listUsers();
  await provider.close();
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(users, null, 2)}\n`);
  } else if (users.length === 0) {
    io.stderr.write(`no users in ${provider.path}; add one with 'gatehouse users add NAME'\n`);
  } else {
    io.stdout.write(formatUserTable(users));
  }
  return EXIT_OK;
}

function formatUserTable(users: ListedUser[]): string {
  const rows = [
    ['USERNAME', 'DISPLAY NAME', 'EMAIL', 'GROUPS', 'STATUS'],
    ...users.map((u) => [u.username, u.displayName, u.emails.join(',') || '-', u.groups.join(',') || '-', u.unreadableHash ? 'disabled (unreadable password hash)' : u.disabled ? 'disabled' : 'enabled']),
  ];
  return formatTable(rows);
}

async function openProvider(usersFile: UsersFileOptions, { create }: { create: boolean }): Promise<FileUserProvider> {
  if (!create) {
    await access(usersFile.path).catch(() => {
      throw new CliExit(EXIT_FAILURE, `users file ${usersFile.path} does not exist; create it with 'gatehouse users add NAME'`);
    });
  }
  return FileUserProvider.open({
    path: usersFile.path,
    watch: false,
    password: { algorithm: 'argon2', argon2: usersFile.argon2 },
    ...(usersFile.search === undefined ? {} : { search: usersFile.search }),
    logger: pino({ level: 'silent' }), // the CLI reports in plain words on stdout/stderr
  });
}

async function readNewPassword(io: CliIO, fromStdin: boolean, usage: string): Promise<string> {
  if (fromStdin) {
    const password = await readFirstLine(io.stdin);
    if (password.length === 0) throw new CliExit(EXIT_FAILURE, 'no password on the first line of stdin');
    return password;
  }
  if (!io.isTTY) {
    throw usageError('stdin is not a terminal: pipe the password in and pass --password-stdin', usage);
  }
  const password = await promptHidden(io, 'Password: ');
  if (password.length === 0) throw new CliExit(EXIT_FAILURE, 'the password is empty');
  const again = await promptHidden(io, 'Confirm password: ');
  if (again !== password) throw new CliExit(EXIT_FAILURE, 'the passwords do not match; nothing was changed');
  return password;
}

/** The configuration's password_policy (absent: Gatehouse's default), the one setup and the monitor apply too. */
function checkPasswordPolicy(usersFile: UsersFileOptions, password: string, username: string): void {
  const problem = (usersFile.passwordPolicy ?? DEFAULT_PASSWORD_POLICY).problem(password, username);
  if (problem !== null) throw new CliExit(EXIT_FAILURE, `${problem}; nothing was changed`);
}

/** The account NAME names, matched as the login form matches it (search.case_insensitive, search.email). */
function accountNamed(provider: FileUserProvider, name: string): string {
  const username = provider.canonicalUsername(name);
  if (username === null) throw new UserNotFoundError(name);
  return username;
}

function oneName(positionals: string[], usage: string): string {
  if (positionals.length === 0) throw usageError('missing NAME', usage);
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`, usage);
  return positionals[0]!;
}

function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs throws TypeError with ERR_PARSE_ARGS_* codes for unknown options and missing values
    throw usageError(error instanceof Error ? error.message : String(error), usage);
  }
}

function usageError(message: string, usage: string): CliExit {
  return new CliExit(EXIT_USAGE, `${message}\n\n${usage}`);
}

function printHelp(io: CliIO, usage: string): number {
  io.stdout.write(usage);
  return EXIT_OK;
}

async function runCommand(io: CliIO, name: string, command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (error) {
    const [code, message] = describeFailure(error);
    io.stderr.write(`${name}: ${message}\n`);
    return code;
  }
}

function describeFailure(error: unknown): [number, string] {
  if (error instanceof CliExit) return [error.exitCode, error.message];
  if (error instanceof UsersFileError) return [EXIT_FAILURE, `${error.message}\nfix the users file, then run the command again`];
  if (error instanceof UserExistsError) return [EXIT_FAILURE, `${error.message}; to change its password use 'gatehouse users passwd NAME'`];
  if (error instanceof UserNotFoundError) return [EXIT_FAILURE, `${error.message}; see 'gatehouse users list'`];
  if (error instanceof InvalidUserInputError) return [EXIT_USAGE, error.message];
  if (error instanceof SecretInputError || error instanceof GatehouseError) return [EXIT_FAILURE, error.message];
  const errno = error as NodeJS.ErrnoException;
  if (typeof errno?.code === 'string' && typeof errno.path === 'string') return [EXIT_FAILURE, `${errno.code} on ${errno.path}: ${errno.message}`];
  return [EXIT_FAILURE, error instanceof Error ? error.message : String(error)];
}
