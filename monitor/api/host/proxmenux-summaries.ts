/**
 * /api/storage/summary and /api/network/summary in ProxMenux's shape: the keys its flask_server.py
 * answers (which its web docs' Homepage and Home Assistant recipes read) together with the ones its
 * AppImage README documents (which that README's own recipes read), so either set of recipes works.
 */
import { networkInterfaces } from 'node:os';
import { percentOf, type ProcOptions } from './proc.ts';
import { readNetDev } from './network.ts';
import { GB, oneDecimal } from './proxmenux-system.ts';
import { readStorage, type Filesystem } from './storage.ts';
import { listSys, readSysText, sysPath, type SysOptions } from './sysfs.ts';

const TB = 1024 ** 4;

export type SummaryOptions = ProcOptions & SysOptions;

/** Block devices lsblk calls disks: not loop, RAM, zram, zvols (zd), device-mapper, md RAID or optical. */
const NOT_A_DISK = /^(loop|ram|zram|zd|dm-|md|sr|fd)/;

export interface DiskEntry {
  device: string;
  model: string;
  size: string;
  type: 'SSD' | 'HDD';
}

async function readDisks(options: SysOptions): Promise<{ bytes: number; entry: DiskEntry }[]> {
  const disks: { bytes: number; entry: DiskEntry }[] = [];
  for (const name of await listSys(sysPath(options, 'block'))) {
    if (NOT_A_DISK.test(name)) continue;
    const sectors = Number(await readSysText(sysPath(options, 'block', name, 'size')));
    if (!(sectors > 0)) continue; // an unattached nbd or an empty card reader holds nothing
    const bytes = sectors * 512; // sysfs counts 512-byte sectors whatever the device's own
    const model = (await readSysText(sysPath(options, 'block', name, 'device/model'))) || 'unknown';
    const rotational = await readSysText(sysPath(options, 'block', name, 'queue/rotational'));
    disks.push({ bytes, entry: { device: `/dev/${name}`, model, size: `${(bytes / GB).toFixed(2)} GB`, type: rotational === '1' ? 'HDD' : 'SSD' } });
  }
  return disks;
}

/**
 * Used and free space of the mounted filesystems. ZFS datasets share their pool's free space: each
 * pool's free space counts once (ProxMenux asks zpool; this reads the datasets it can see).
 */
function spaceOf(filesystems: readonly Filesystem[]): { used: number; free: number } {
  let used = 0;
  let free = 0;
  const poolFree = new Map<string, number>();
  for (const fs of filesystems) {
    used += fs.used;
    if (fs.fstype === 'zfs') {
      const pool = fs.device.split('/')[0]!;
      poolFree.set(pool, Math.max(poolFree.get(pool) ?? 0, fs.available));
    } else {
      free += fs.available;
    }
  }
  for (const available of poolFree.values()) free += available;
  return { used, free };
}

export async function readStorageSummary(options: SummaryOptions = {}) {
  const [disks, { filesystems }] = await Promise.all([readDisks(options), readStorage(options)]);
  const diskBytes = disks.reduce((sum, d) => sum + d.bytes, 0);
  const { used, free } = spaceOf(filesystems);
  return {
    // flask_server.py: TB of the disks, GB used and available
    total: oneDecimal(diskBytes / TB),
    used: oneDecimal(used / GB),
    available: oneDecimal(free / GB),
    disk_count: disks.length,
    // ProxMenux's README: bytes and a percentage
    total_capacity: used + free,
    used_space: used,
    free_space: free,
    usage_percentage: percentOf(used, used + free),
    disks: disks.map((d) => d.entry),
  };
}

type InterfaceKind = 'skip' | 'vm_lxc' | 'bond' | 'bridge' | 'vlan' | 'physical';

/** ProxMenux's get_interface_type, sysfs first where it looks there. */
async function interfaceKind(name: string, options: SysOptions): Promise<InterfaceKind> {
  if (name === 'lo') return 'skip';
  if (/^(veth|tap)/.test(name)) return 'vm_lxc';
  if (/^(tun|vnet|docker|virbr)/.test(name)) return 'skip';
  if (name.startsWith('bond') || (await readSysText(sysPath(options, 'class/net', name, 'bonding/mode'))) !== undefined) return 'bond';
  if (/^(vmbr|br)/.test(name) || (await listSys(sysPath(options, 'class/net', name, 'bridge'))).length > 0) return 'bridge';
  if (name.includes('.')) return 'vlan';
  if ((await listSys(sysPath(options, 'class/net', name, 'device'))).length > 0) return 'physical';
  if (/^(enp|eth|eno|ens|enx|wlan|wlp|wlo|usb)/.test(name)) return 'physical';
  return 'skip';
}

/** IFF_UP, as psutil's isup reads it (the interface is administratively up). */
async function isUp(name: string, options: SysOptions): Promise<boolean> {
  const flags = await readSysText(sysPath(options, 'class/net', name, 'flags'));
  if (flags !== undefined && /^0x[0-9a-f]+$/i.test(flags)) return (Number.parseInt(flags, 16) & 1) === 1;
  return (await readSysText(sysPath(options, 'class/net', name, 'operstate'))) === 'up';
}

export async function readNetworkSummary(options: SummaryOptions = {}) {
  const counters = await readNetDev(options);
  const assigned = networkInterfaces();
  const traffic = { bytes_sent: 0, bytes_recv: 0, packets_sent: 0, packets_recv: 0 };
  const physical: { name: string; up: boolean; rx: number; tx: number }[] = [];
  const bridges: typeof physical = [];
  for (const [name, { rx, tx }] of counters) {
    // psutil.net_io_counters(): every interface, loopback included
    traffic.bytes_sent += tx.bytes;
    traffic.bytes_recv += rx.bytes;
    traffic.packets_sent += tx.packets;
    traffic.packets_recv += rx.packets;
    const kind = await interfaceKind(name, options);
    if (kind === 'physical' || kind === 'bridge') (kind === 'physical' ? physical : bridges).push({ name, up: await isUp(name, options), rx: rx.bytes, tx: tx.bytes });
  }
  const ipv4 = (name: string) => (assigned[name] ?? []).filter((a) => a.family === 'IPv4');
  const upEntries = (list: typeof physical) =>
    list.filter((i) => i.up).map((i) => ({ name: i.name, status: 'up', addresses: ipv4(i.name).map((a) => ({ ip: a.address, netmask: a.netmask })) }));
  return {
    physical_active_count: physical.filter((i) => i.up).length,
    physical_total_count: physical.length,
    bridge_active_count: bridges.filter((i) => i.up).length,
    bridge_total_count: bridges.length,
    physical_interfaces: upEntries(physical),
    bridge_interfaces: upEntries(bridges),
    traffic,
    // ProxMenux's README: one entry per bridge, then per physical interface (interfaces[0] is vmbr0 on a usual host)
    interfaces: [...bridges, ...physical].map((i) => ({ name: i.name, ip: ipv4(i.name)[0]?.address ?? null, state: i.up ? 'up' : 'down', rx_bytes: i.rx, tx_bytes: i.tx })),
  };
}
