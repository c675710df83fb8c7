/**
 * `gatehouse regulation list|unban`: the bans in force, read from storage (so every instance sharing
 * it agrees), and lifting one. A name is resolved as a login is (users backend's resolveLogin, then the
 * regulator's normalisation) and an address normalised as the regulator keys it, so `unban` finds the
 * ban the regulator wrote whatever spelling the operator types.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino, type Logger } from 'pino';
import { formatTable, UsageError, type CliIO } from '../../lib/cli-io.ts';
import { logField } from '../../lib/log-field.ts';
import { createLogger, escapeControl } from '../../lib/logger.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { openUsers } from '../users/open.ts';
import type { BanRepository } from '../storage/bans.ts';
import { openStorage } from '../storage/open.ts';
import { storageOptionsFromConfig } from '../storage/options.ts';
import { loadTrustedCertificates } from '../../lib/net/trusted-cas.ts';
import type { Ban } from '../storage/types.ts';
import { ipSubject, normaliseUsername } from '../regulation/subjects.ts';

export const REGULATION_HELP = `Usage: gatehouse regulation list [--json] [--config F]...
       gatehouse regulation unban USER|IP [--config F]...

list   the user and address bans in force (from the storage every gateway shares): what is banned,
       since when, until when ('until revoked' for a ban without end), by whom (source) and why.
       --json prints a JSON array instead of a table.
unban  revokes every ban in force for a user or an address, and the failures before it stop counting:
       the next attempt starts a fresh count. USER is resolved as the login form resolves it (the
       account's username, or its e-mail with search.email, in any case with search.case_insensitive);
       a name no account has is unbanned as typed. An IP address is an address (::ffff:a.b.c.d is the
       IPv4 address); to name a user whose name looks like one, use --user NAME.
       Each unban is written to the log (log.file_path, else stderr).
`;

const LIST_HELP = `Usage: gatehouse regulation list [--json] [--config F]...

Lists the user and address bans in force: what is banned, since when, until when ('until revoked' for a
ban without end), by whom (source: 'regulation' for automatic bans) and why.

Options:
  --json        print a JSON array instead of a table
  -h, --help    show this help
`;

const UNBAN_HELP = `Usage: gatehouse regulation unban USER|IP [--config F]...
       gatehouse regulation unban --user NAME [--config F]...

Revokes every ban in force for a user or an IP address; the failures before it stop counting, so the
next attempt starts a fresh count. USER is resolved as the login form resolves it (the account's
username, or its e-mail with search.email, in any case with search.case_insensitive); a name no account
has is unbanned as typed (unknown names are banned too). An argument that is an IP address names the
address; --user NAME names a user whose name looks like an address. Exits 1 when nothing was banned.
The unban is written to the log (log.file_path, else stderr).

Options:
  --user NAME   the user NAME, even if it looks like an address
  -h, --help    show this help
`;

/** What the commands need from the configuration, opened only when a command runs (never for --help). */
export interface RegulationContext {
  /** The storage's bans, and how to close it. */
  openBans(): Promise<{ bans: Pick<BanRepository, 'listUserBans' | 'listIpBans' | 'revokeUserBan' | 'revokeIpBan'>; close(): Promise<void> }>;
  /** The account a login names (as the login form resolves it), or null for none. */
  resolveLogin(login: string): Promise<string | null>;
  /** Where unbans are audited: the configured log. */
  logger: Logger;
  now?: () => number;
}

/** No subcommand, or --help anywhere: answered from the text alone. */
export function wantsRegulationHelp(args: readonly string[]): boolean {
  const [sub, ...rest] = args;
  return sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help') || rest.includes('-h');
}

/** `--help` anywhere prints the command's usage; no configuration is loaded for it. */
export function regulationHelp(args: readonly string[], io: CliIO): number {
  const [sub] = args;
  const text = sub === 'list' ? LIST_HELP : sub === 'unban' ? UNBAN_HELP : REGULATION_HELP;
  (sub === undefined ? io.stderr : io.stdout).write(text);
  return sub === undefined ? 2 : 0;
}

export async function runRegulation(args: readonly string[], io: CliIO, context: RegulationContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const { values, positionals } = parse(rest, { json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return list(io, context, values.json === true);
  }
  if (sub === 'unban') {
    const { values, positionals } = parse(rest, { user: { type: 'string' } });
    const forcedUser = typeof values.user === 'string' ? values.user : undefined;
    if (forcedUser !== undefined && positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (forcedUser === undefined && positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'regulation unban needs a USER or an IP address' : `unexpected argument '${positionals[1]}'`);
    const target = forcedUser ?? positionals[0]!;
    if (target.trim() === '') throw new UsageError('regulation unban needs a USER or an IP address');
    return unban(io, context, target, forcedUser === undefined && isIP(target.trim()) !== 0 ? 'ip' : 'user');
  }
  throw new UsageError(`unknown regulation command '${sub}' (gatehouse regulation --help)`);
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs throws TypeError with ERR_PARSE_ARGS_* codes for unknown options and missing values
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

interface ListedBan {
  kind: 'user' | 'ip';
  subject: string;
  since: string;
  /** null: until revoked */
  until: string | null;
  source: string;
  reason: string | null;
}

function listed(kind: ListedBan['kind'], subject: string, ban: Ban): ListedBan {
  return {
    kind,
    subject,
    since: new Date(ban.time).toISOString(),
    until: ban.expires === null ? null : new Date(ban.expires).toISOString(),
    source: ban.source,
    reason: ban.reason,
  };
}

async function list(io: CliIO, context: RegulationContext, json: boolean): Promise<number> {
  const now = (context.now ?? Date.now)();
  const storage = await context.openBans();
  let bans: ListedBan[];
  try {
    const users = await storage.bans.listUserBans(now);
    const ips = await storage.bans.listIpBans(now);
    bans = [...users.map((ban) => listed('user', ban.username, ban)), ...ips.map((ban) => listed('ip', ban.ip, ban))];
  } finally {
    await storage.close();
  }
  if (json) {
    io.stdout.write(`${JSON.stringify(bans, null, 2)}\n`);
    return 0;
  }
  if (bans.length === 0) {
    io.stdout.write('regulation: no ban in force\n');
    return 0;
  }
  const rows = [
    ['KIND', 'BANNED', 'SINCE', 'UNTIL', 'SOURCE', 'REASON'],
    // subjects may be names an attacker chose: escaped, so they cannot drive the terminal
    ...bans.map((b) => [b.kind, escapeControl(b.subject), b.since, b.until ?? 'until revoked', escapeControl(b.source), escapeControl(b.reason ?? '-')]),
  ];
  io.stdout.write(formatTable(rows));
  return 0;
}

async function unban(io: CliIO, context: RegulationContext, target: string, kind: 'user' | 'ip'): Promise<number> {
  const now = (context.now ?? Date.now)();
  // the names the regulator may have banned this login under: the account's, and the login as typed
  // (an attempt made before the account existed, or before search.email was on, was counted under it)
  const subjects = kind === 'ip' ? [ipSubject(target.trim())] : [...new Set([normaliseUsername((await context.resolveLogin(target)) ?? target), normaliseUsername(target)])];
  const storage = await context.openBans();
  let revoked = 0;
  try {
    for (const subject of subjects) {
      revoked += kind === 'ip' ? await storage.bans.revokeIpBan(subject, now) : await storage.bans.revokeUserBan(subject, now);
    }
  } finally {
    await storage.close();
  }
  const what = `${kind === 'ip' ? 'address' : 'user'} '${logField(subjects[0]!)}'`;
  if (revoked === 0) {
    io.stderr.write(`gatehouse regulation: no ban in force for ${what}; see 'gatehouse regulation list'\n`);
    return 1;
  }
  context.logger.warn(
    { audit: true, event: 'regulation.unban', mode: kind, subject: subjects[0], revoked },
    `regulation: unbanned ${what} (${revoked} ban${revoked === 1 ? '' : 's'} revoked) from the command line`,
  );
  io.stdout.write(`regulation: unbanned ${what} (${revoked} ban${revoked === 1 ? '' : 's'} revoked)\n`);
  return 0;
}

/** The context from a loaded configuration: the storage it names, its users backend, its log. */
export function regulationContextFromConfig(config: Pick<GatewayConfig, 'storage' | 'authentication_backend' | 'log' | 'certificates_directory'>, io: CliIO): RegulationContext {
  const silent = pino({ level: 'silent' });
  return {
    logger: createLogger(config.log, io.stderr),
    async openBans() {
      // never migrates: a database behind the gateway's version says so ('gatehouse storage migrate')
      const storage = await openStorage(storageOptionsFromConfig(config.storage, await loadTrustedCertificates(config.certificates_directory)), { logger: silent, migrate: false });
      return { bans: storage.bans, close: () => storage.close() };
    },
    async resolveLogin(login) {
      const { file, ldap } = config.authentication_backend;
      // no users file yet: no account, every name is its own subject (as the regulator counts it)
      if (ldap === undefined && (file === undefined || !existsSync(file.path))) return null;
      const trusted = await loadTrustedCertificates(config.certificates_directory);
      const { users } = await openUsers(config.authentication_backend, { logger: silent, watch: false, create: false, trusted });
      try {
        return await users.resolveLogin(login);
      } finally {
        await users.close();
      }
    },
  };
}
