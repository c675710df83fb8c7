import { networkInterfaces } from 'node:os';
import { readProcFile, type ProcOptions } from './proc.ts';
import { RateSampler } from './sampler.ts';

export interface InterfaceCounters {
  bytes: number;
  packets: number;
  errors: number;
  drops: number;
}

/** /proc/net/dev: interface name → receive and transmit counters, in file order. */
export type NetDevCounters = Map<string, { rx: InterfaceCounters; tx: InterfaceCounters }>;

export interface NetworkRates {
  interval_seconds: number;
  /** Bytes per second over the interval, per interface and direction. */
  rates: Map<string, { rx: number; tx: number }>;
}

export interface NetworkInterface {
  name: string;
  mac: string | null;
  addresses: { address: string; family: 'IPv4' | 'IPv6'; cidr: string | null }[];
  rx: InterfaceCounters & { bytes_per_second: number };
  tx: InterfaceCounters & { bytes_per_second: number };
}

export interface NetworkStatus {
  /** The window the rates are measured over. */
  interval_seconds: number;
  interfaces: NetworkInterface[];
}

export interface NetworkOptions extends ProcOptions {
  /** Keeps the last counters between calls; without one the call samples over ~200 ms. */
  sampler?: { network: RateSampler<NetDevCounters, NetworkRates> };
}

/**
 * Receive columns: bytes packets errs drop fifo frame compressed multicast;
 * transmit columns: bytes packets errs drop fifo colls carrier compressed.
 */
export function parseNetDev(text: string): NetDevCounters {
  const counters: NetDevCounters = new Map();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const v = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (v.length < 16 || v.some((n) => !Number.isFinite(n))) continue;
    const at = (i: number): number => v[i] ?? 0;
    counters.set(name, {
      rx: { bytes: at(0), packets: at(1), errors: at(2), drops: at(3) },
      tx: { bytes: at(8), packets: at(9), errors: at(10), drops: at(11) },
    });
  }
  return counters;
}

export async function readNetDev(options: ProcOptions = {}): Promise<NetDevCounters> {
  return parseNetDev(await readProcFile('net/dev', options));
}

function perSecond(before: number | undefined, after: number, seconds: number): number {
  // a counter that went backwards was reset (interface re-created): no rate for this window
  if (before === undefined || after < before) return 0;
  return Math.round(((after - before) / seconds) * 10) / 10;
}

export function networkRates(before: NetDevCounters, after: NetDevCounters, seconds: number): NetworkRates {
  const rates = new Map<string, { rx: number; tx: number }>();
  for (const [name, now] of after) {
    const then = before.get(name);
    rates.set(name, { rx: perSecond(then?.rx.bytes, now.rx.bytes, seconds), tx: perSecond(then?.tx.bytes, now.tx.bytes, seconds) });
  }
  return { interval_seconds: Math.round(seconds * 1000) / 1000, rates };
}

/** Interfaces with counters from /proc/net/dev, rates since the sampler's previous reading, and addresses. */
export async function readNetwork(options: NetworkOptions = {}): Promise<NetworkStatus> {
  const sampler = options.sampler?.network ?? new RateSampler();
  let counters: NetDevCounters | undefined;
  const { interval_seconds, rates } = await sampler.read(
    async () => (counters = await readNetDev(options)),
    networkRates,
  );
  // a result reused because the previous reading is very recent carries that reading's counters
  counters ??= await readNetDev(options);
  const addresses = networkInterfaces();
  const interfaces: NetworkInterface[] = [];
  for (const [name, { rx, tx }] of counters) {
    const assigned = addresses[name] ?? [];
    const rate = rates.get(name) ?? { rx: 0, tx: 0 };
    interfaces.push({
      name,
      mac: assigned[0]?.mac ?? null,
      addresses: assigned.map((a) => ({ address: a.address, family: a.family, cidr: a.cidr })),
      rx: { ...rx, bytes_per_second: rate.rx },
      tx: { ...tx, bytes_per_second: rate.tx },
    });
  }
  return { interval_seconds, interfaces };
}
