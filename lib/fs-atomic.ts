import { open, rename, unlink, mkdir, readdir, stat } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/**
 * The writer's temp files: `.<name>.<pid>@<host>.<12 hex>.gatehouse-tmp` beside the file they replace.
 * The pid says whose it is, so a later start can tell a crashed writer's leftover from a write in
 * progress; the host says where that pid means something (another machine or container sharing the
 * directory has pids of its own).
 */
const TEMP_SUFFIX = '.gatehouse-tmp';
const TEMP_NAME = /^\..+\.(\d+)@([A-Za-z0-9-]+)\.[0-9a-f]{12}\.gatehouse-tmp$/;
/** What earlier versions left behind (`.<name>.<pid>.<hex>.gatehouse-tmp`, `.<name>.<hex>.tmp`): judged by age alone. */
const OLDER_TEMP_NAMES = [/^\..+\.\d+\.[0-9a-f]{12}\.gatehouse-tmp$/, /^\..+\.[0-9a-f]{12}\.tmp$/];
/** No atomic write takes this long: an older temp file is a leftover whoever's pid it names. */
const STALE_TEMP_AGE_MS = 60_000;

/**
 * Where this process's pids mean something: the host name and the pid namespace (containers on one
 * machine share the kernel but not pids, and may share a host name).
 */
function currentPidSpace(): string {
  let namespace = '';
  try {
    namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    // not Linux: the host name alone
  }
  return `${hostname()}-${namespace}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 48);
}
export const PID_SPACE = currentPidSpace();
/** When this process started (ms): a temp file naming our pid but older than that is a previous process's (pid 1 in a container). */
const PROCESS_START = performance.timeOrigin;

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}@${PID_SPACE}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/**
 * Replace `path` with `data` so that a reader sees either the old or the new file, never a torn one:
 * write a temp file beside it, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or the caller asked for a wider mode
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

export interface StaleTempOptions {
  now?: () => number;
  isAlive?: (pid: number) => boolean;
  /** This process's pid space and start (ms); tests play another container or a restarted one. */
  pidSpace?: string;
  pid?: number;
  processStart?: number;
}

/**
 * Removes the temp files writeFileAtomic left in `dir` when its process died mid-write (kill -9, a
 * crash, power loss): older than a minute, or, when written in this pid space, whose writer is gone
 * (or is this pid before this process started). Another host's or container's file is judged by age
 * alone: its pid means nothing here. Only files named by the writer's patterns are touched. Returns
 * the paths removed; a missing directory removes nothing.
 */
export async function removeStaleTempFiles(dir: string, options: StaleTempOptions = {}): Promise<string[]> {
  const now = options.now ?? Date.now;
  const isAlive = options.isAlive ?? processIsAlive;
  const pidSpace = options.pidSpace ?? PID_SPACE;
  const ownPid = options.pid ?? process.pid;
  const processStart = options.processStart ?? PROCESS_START;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const ours = TEMP_NAME.exec(name);
    if (!ours && !OLDER_TEMP_NAMES.some((pattern) => pattern.test(name))) continue;
    const path = join(dir, name);
    try {
      const info = await stat(path);
      if (!info.isFile()) continue;
      const old = now() - info.mtimeMs > STALE_TEMP_AGE_MS;
      let orphaned = false;
      if (ours !== null && ours[2] === pidSpace) {
        const pid = Number(ours[1]);
        orphaned = pid === ownPid ? info.mtimeMs < processStart : !isAlive(pid);
      }
      if (!old && !orphaned) continue; // a write in progress, here or elsewhere
      await unlink(path);
      removed.push(path);
    } catch {
      // gone meanwhile (its writer renamed it), or not ours to remove: leave it
    }
  }
  return removed;
}

/** removeStaleTempFiles for every directory a service writes atomically into, each removal logged. */
export async function cleanUpInterruptedWrites(dirs: Iterable<string>, logger: Logger): Promise<void> {
  for (const dir of new Set(dirs)) {
    for (const path of await removeStaleTempFiles(dir)) logger.warn({ file: path }, 'removed the temp file of a write that was interrupted (crash or kill)');
  }
}
