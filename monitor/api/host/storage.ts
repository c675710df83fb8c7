import { stat, statfs } from 'node:fs/promises';
import { percentOf, readProcFile, type ProcOptions } from './proc.ts';

/**
 * Filesystem types that hold no data of their own and are left out. Beyond df's "dummy" list this
 * skips memory-backed tmpfs/ramfs/devtmpfs (already counted in memory), lxcfs (LXC's view of
 * /proc files) and read-only images (squashfs snaps, iso9660), which are always 100% full and
 * would keep the health status critical. overlay stays: it is the root filesystem in a container.
 */
export const PSEUDO_FILESYSTEM_TYPES: ReadonlySet<string> = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
  'efivarfs', 'fusectl', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fuse.portal', 'hugetlbfs', 'iso9660',
  'mqueue', 'nfsd', 'nsfs', 'proc', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs',
  'squashfs', 'sysfs', 'tmpfs', 'tracefs',
]);

/** A statfs that does not answer in this time (a hung network mount) leaves its filesystem out. */
const STATFS_TIMEOUT_MS = 2_000;

export interface MountEntry {
  device: string;
  mountpoint: string;
  fstype: string;
}

/** Sizes in bytes, as `df -B1` prints them. */
export interface Filesystem extends MountEntry {
  total: number;
  used: number;
  available: number;
  /** used / (used + available), df's Use% before it rounds up. */
  usage_percent: number;
}

export interface StorageStatus {
  filesystems: Filesystem[];
}

/** The kernel escapes space, tab, newline and backslash in mount fields as octal (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Entries of /proc/self/mounts (fstab format), in mount order. */
export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, mountpoint, fstype] = line.split(' ');
    if (device === undefined || mountpoint === undefined || fstype === undefined) continue;
    entries.push({ device: unescapeMountField(device), mountpoint: unescapeMountField(mountpoint), fstype });
  }
  return entries;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function measure(entry: MountEntry): Promise<{ filesystem: Filesystem; dev: number } | undefined> {
  try {
    const found = await withTimeout(Promise.all([statfs(entry.mountpoint), stat(entry.mountpoint)]), STATFS_TIMEOUT_MS);
    if (found === undefined) return undefined;
    const [fs, st] = found;
    if (fs.blocks === 0) return undefined; // df leaves out filesystems with no blocks too
    const unit = fs.frsize || fs.bsize; // df counts in fragment size units
    const used = (fs.blocks - fs.bfree) * unit;
    const available = fs.bavail * unit;
    return {
      dev: st.dev,
      filesystem: { ...entry, total: fs.blocks * unit, used, available, usage_percent: percentOf(used, used + available) },
    };
  } catch {
    return undefined; // unreadable mountpoint (permission, vanished): df skips it with a warning
  }
}

/**
 * Whether a later entry for an already seen device replaces it, by df's rules (any one suffices):
 * a device path beats a name without '/', a mountpoint nearer the root wins, and an entry mounted
 * over the same mountpoint by another device wins.
 */
function preferLater(seen: MountEntry, later: MountEntry): boolean {
  return (
    (later.device.includes('/') && !seen.device.includes('/')) ||
    seen.mountpoint.length > later.mountpoint.length ||
    (seen.device !== later.device && seen.mountpoint === later.mountpoint)
  );
}

/** Mounted filesystems with their sizes, one entry per device (bind mounts shown once, as df does). */
export async function readStorage(options: ProcOptions = {}): Promise<StorageStatus> {
  const entries = parseMounts(await readProcFile('self/mounts', options)).filter((e) => !PSEUDO_FILESYSTEM_TYPES.has(e.fstype));
  const measured = await Promise.all(entries.map(measure));
  const byDevice = new Map<number, Filesystem>();
  for (const item of measured) {
    if (item === undefined) continue;
    const seen = byDevice.get(item.dev);
    if (seen === undefined || preferLater(seen, item.filesystem)) byDevice.set(item.dev, item.filesystem);
  }
  return { filesystems: [...byDevice.values()] };
}
