// What the operator's own tools say about this machine, parsed for comparison with the readers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { requireBinary } from '../../../helpers/binaries.ts';

/** stdout of a command; a non-zero exit still yields its output (df exits 1 when one mount is unreadable). */
export function run(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { env: { ...process.env, LC_ALL: 'C' } }, (error, stdout) => {
      if (error !== null && stdout === '') reject(error);
      else resolve(stdout);
    });
  });
}

export interface FreeOutput {
  version: [number, number, number];
  mem: { total: number; used: number; free: number; shared: number; buffCache: number; available: number };
  swap: { total: number; used: number; free: number };
}

/** `free -b` (and `free -V` for which definition of "used" it prints). */
export async function free(): Promise<FreeOutput> {
  const binary = requireBinary('free', 'procps');
  const [text, versionText] = await Promise.all([run(binary, ['-b']), run(binary, ['-V'])]);
  const numbers = (label: string): number[] => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    if (line === undefined) throw new Error(`free -b printed no ${label} line:\n${text}`);
    return line.slice(label.length).trim().split(/\s+/).map(Number);
  };
  const [total = NaN, used = NaN, freeBytes = NaN, shared = NaN, buffCache = NaN, available = NaN] = numbers('Mem:');
  const [swapTotal = NaN, swapUsed = NaN, swapFree = NaN] = numbers('Swap:');
  const [major = 0, minor = 0, patch = 0] = (/(\d+)\.(\d+)(?:\.(\d+))?/.exec(versionText) ?? []).slice(1).map((v) => Number(v ?? 0));
  return {
    version: [major, minor, patch],
    mem: { total, used, free: freeBytes, shared, buffCache, available },
    swap: { total: swapTotal, used: swapUsed, free: swapFree },
  };
}

/** procps-ng 4.0.1 changed free's "used" from total - free - buff/cache to total - available. */
export function freeUsesAvailable(version: [number, number, number]): boolean {
  const [major, minor, patch] = version;
  return major > 4 || (major === 4 && (minor > 0 || patch >= 1));
}

export interface DfRow {
  fstype: string;
  target: string;
  size: number;
  used: number;
  avail: number;
}

/** `df -B1 --output=fstype,target,size,used,avail`, keyed by mountpoint. */
export async function df(): Promise<Map<string, DfRow>> {
  const text = await run(requireBinary('df', 'coreutils'), ['-B1', '--output=fstype,target,size,used,avail']);
  const rows = new Map<string, DfRow>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const [avail, used, size] = [fields.pop(), fields.pop(), fields.pop()].map(Number);
    const [fstype = '', ...target] = fields;
    rows.set(target.join(' '), { fstype, target: target.join(' '), size: size ?? NaN, used: used ?? NaN, avail: avail ?? NaN });
  }
  return rows;
}

/** rx/tx bytes of one interface straight from /proc/net/dev, parsed independently of the reader. */
export async function procNetDevBytes(name: string): Promise<{ rx: number; tx: number }> {
  const text = await readFile('/proc/net/dev', 'utf8');
  const line = text.split('\n').find((l) => l.trim().startsWith(`${name}:`));
  if (line === undefined) throw new Error(`/proc/net/dev has no ${name}`);
  const fields = line.split(':')[1]?.trim().split(/\s+/).map(Number) ?? [];
  return { rx: fields[0] ?? NaN, tx: fields[8] ?? NaN };
}

/** Tolerance for a figure that moves between two reads: 2% of it or 64 MiB, whichever is larger. */
export function drift(value: number): number {
  return Math.max(value * 0.02, 64 * 1024 * 1024);
}

export function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is more than ${tolerance} away from ${expected}`);
}

/** Sends `bytes` over a TCP connection on 127.0.0.1 and resolves once the server has received them all. */
export async function sendOverLoopback(bytes: number): Promise<void> {
  let received = 0;
  let done: () => void = () => {};
  const allReceived = new Promise<void>((resolve) => {
    done = resolve;
  });
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) done();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = connect(port, '127.0.0.1');
  client.end(Buffer.alloc(bytes, 0x61));
  await allReceived;
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
