/**
 * Which account a web terminal runs as. Never root by accident: a monitor running as root hands the
 * shell to `terminal.user` unless `terminal.allow_root` says otherwise; a monitor running as anyone
 * else can only give its own account.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { GatehouseError } from '../../lib/errors.ts';
import type { MonitorConfig } from '../config/schema.ts';

/** A terminal cannot be started as configured; the message names the option, fit for the operator. */
export class TerminalUnavailableError extends GatehouseError {
  declare readonly code: 'terminal_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super('terminal_unavailable', message, options);
  }
}

export interface ShellAccount {
  username: string;
  uid: number;
  gid: number;
  home: string;
  /** The monitor is root and must switch to this account before running the shell. */
  switchUser: boolean;
}

export interface PasswdEntry {
  username: string;
  uid: number;
  gid: number;
  home: string;
}

export const PASSWD_FILE = '/etc/passwd';

/** The entry for `username` in a passwd(5) file, or null. */
export function findPasswdEntry(username: string, passwdFile: string = PASSWD_FILE): PasswdEntry | null {
  for (const line of readFileSync(passwdFile, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields.length < 7 || fields[0] !== username) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) return null;
    return { username, uid, gid, home: fields[5] ?? '/' };
  }
  return null;
}

export interface ShellAccountOptions {
  /** The monitor's own uid (process.getuid()). */
  processUid?: number;
  passwdFile?: string;
}

export function shellAccountFor(terminal: Omit<MonitorConfig['terminal'], 'refresh_interval'>, options: ShellAccountOptions = {}): ShellAccount {
  const processUid = options.processUid ?? process.getuid?.() ?? -1;
  if (processUid !== 0 || terminal.allow_root) {
    const self = userInfo();
    return { username: self.username, uid: self.uid, gid: self.gid, home: self.homedir, switchUser: false };
  }
  const passwdFile = options.passwdFile ?? PASSWD_FILE;
  let entry: PasswdEntry | null;
  try {
    entry = findPasswdEntry(terminal.user, passwdFile);
  } catch (error) {
    throw new TerminalUnavailableError(`terminal: cannot read ${passwdFile} to look up user '${terminal.user}'`, { cause: error });
  }
  // deny: never fall back to root when the configured account is missing
  if (entry === null) throw new TerminalUnavailableError(`terminal: option 'user': '${terminal.user}' is not an account in ${passwdFile}`);
  // deny: a uid-0 alias (e.g. toor) is root under another name
  if (entry.uid === 0) throw new TerminalUnavailableError(`terminal: option 'user': '${terminal.user}' has uid 0; set 'allow_root: true' to run the terminal as root`);
  return { ...entry, switchUser: true };
}
