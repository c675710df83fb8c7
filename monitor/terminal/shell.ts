/**
 * Starts the configured login shell on a PTY, as the account chosen in account.ts, with a clean
 * environment: nothing of the monitor's own environment (secrets, tokens) reaches the shell.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { spawn, type IPty } from 'node-pty';
import { TerminalUnavailableError, type ShellAccount } from './account.ts';

export const INITIAL_COLS = 120;
export const INITIAL_ROWS = 30;

const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'];

export function shellEnvironment(account: ShellAccount, shell: string): Record<string, string> {
  return {
    PATH: account.uid === 0 ? ROOT_PATH : USER_PATH,
    HOME: account.home,
    USER: account.username,
    LOGNAME: account.username,
    SHELL: shell,
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    LANG: 'C.UTF-8',
    GATEHOUSE_TERMINAL: 'monitor',
  };
}

/** util-linux setpriv, or null. */
export function findSetpriv(): string | null {
  for (const candidate of SETPRIV_CANDIDATES) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export interface SpawnShellOptions {
  shell: string;
  account: ShellAccount;
  /** Needed when account.switchUser; see findSetpriv(). */
  setprivPath: string | null;
}

/** The shell's command line: the shell itself, or setpriv switching to the account first. */
export function shellCommand(options: SpawnShellOptions): { file: string; args: string[] } {
  const { shell, account, setprivPath } = options;
  if (!account.switchUser) return { file: shell, args: ['-l'] };
  // node-pty's own uid/gid does setgid+setuid but keeps the monitor's supplementary groups (often
  // root's); setpriv also resets them to the account's own (initgroups).
  if (setprivPath === null) {
    throw new TerminalUnavailableError(`terminal: setpriv (util-linux) is needed to run the terminal as '${account.username}' and was not found`);
  }
  return { file: setprivPath, args: [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--init-groups', '--', shell, '-l'] };
}

export function spawnShell(options: SpawnShellOptions): IPty {
  const { shell, account } = options;
  try {
    accessSync(shell, constants.X_OK);
  } catch (error) {
    throw new TerminalUnavailableError(`terminal: option 'shell': '${shell}' is not an executable file`, { cause: error });
  }
  const { file, args } = shellCommand(options);
  return spawn(file, args, {
    name: 'xterm-256color',
    cols: INITIAL_COLS,
    rows: INITIAL_ROWS,
    // nobody's home is /nonexistent: start in / rather than fail
    cwd: isDirectory(account.home) ? account.home : '/',
    env: shellEnvironment(account, shell),
    encoding: 'utf8',
  });
}
