// readSystem on this machine against free, uname, os and /proc/uptime; meminfo edge cases from fixtures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { cpus, hostname, loadavg } from 'node:os';
import { memoryFromMeminfo, parseMeminfo, readMemory } from '../../../../monitor/api/host/memory.ts';
import { HostDataError } from '../../../../monitor/api/host/proc.ts';
import { createHostSampler } from '../../../../monitor/api/host/host-sampler.ts';
import { readSystem } from '../../../../monitor/api/host/system.ts';
import { requireBinary } from '../../../helpers/binaries.ts';
import { assertNear, drift, free, freeUsesAvailable, run } from './host-tools.ts';

const KiB = 1024;

describe('memory matches free -b on this machine', () => {
  it('total is exact; free, available, buff/cache and swap agree within what changes between two reads', async () => {
    const tool = await free();
    const { memory, swap } = await readSystem();
    assert.equal(memory.total, tool.mem.total);
    assertNear(memory.free, tool.mem.free, drift(tool.mem.free), 'free');
    assertNear(memory.available, tool.mem.available, drift(tool.mem.available), 'available');
    assertNear(memory.buffers + memory.cached, tool.mem.buffCache, drift(tool.mem.buffCache), 'buff/cache');
    assert.equal(swap.total, tool.swap.total);
    assertNear(swap.used, tool.swap.used, drift(tool.swap.used), 'swap used');
    assertNear(swap.free, tool.swap.free, drift(tool.swap.free), 'swap free');
  });

  it('used is what free prints: total - available (procps-ng ≥ 4.0.1)', async (t) => {
    const tool = await free();
    if (!freeUsesAvailable(tool.version)) {
      t.skip(`free here is procps ${tool.version.join('.')}, which printed total - free - buff/cache as used`);
      return;
    }
    const { memory } = await readMemory();
    assertNear(memory.used, tool.mem.used, drift(tool.mem.used), 'used');
    assert.equal(memory.used, memory.total - memory.available);
    assert.equal(memory.usage_percent, Math.round((memory.used / memory.total) * 1000) / 10);
  });
});

describe('the rest of /api/system matches the host', () => {
  it('hostname, cores, kernel and uptime are the ones os, uname and /proc/uptime give', async () => {
    const system = await readSystem();
    assert.equal(system.hostname, hostname());
    assert.equal(system.cpu.cores, cpus().length);
    assert.equal(system.cpu.model, cpus()[0]?.model.trim());
    assert.equal(system.kernel, (await run(requireBinary('uname', 'coreutils'), ['-r'])).trim());
    const procUptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    assertNear(system.uptime_seconds, procUptime, 2, 'uptime');
  });

  it('load is os.loadavg() (the kernel updates it every 5 s, so one of two reads around it)', async () => {
    const before = loadavg();
    const { load } = await readSystem();
    const after = loadavg();
    assert.ok(
      [before, after].some((l) => l.every((v, i) => v === load[i])),
      `load ${load.join(' ')} is neither ${before.join(' ')} nor ${after.join(' ')}`,
    );
  });
});

describe('CPU usage is measured between two /proc/stat readings', () => {
  it('a busy core between two reads shows as use, and the second read does not wait', async () => {
    const sampler = createHostSampler();
    const first = await readSystem({ sampler });
    assert.ok(first.cpu.usage_percent >= 0 && first.cpu.usage_percent <= 100);
    const spinUntil = Date.now() + 500;
    while (Date.now() < spinUntil) Math.sqrt(Math.random());
    const started = performance.now();
    const second = await readSystem({ sampler });
    assert.ok(performance.now() - started < 150, 'the kept reading is used instead of sleeping');
    // one of `cores` CPUs busy the whole window; allow half of that for scheduler noise
    const floor = 100 / second.cpu.cores / 2;
    assert.ok(second.cpu.usage_percent >= floor, `usage ${second.cpu.usage_percent}% after spinning, expected ≥ ${floor}%`);
    assert.ok(second.cpu.usage_percent <= 100);
  });
});

describe('meminfo edge cases follow procps', () => {
  const meminfo = (fields: Record<string, number>): string =>
    Object.entries(fields)
      .map(([name, kb]) => `${name}: ${kb} kB`)
      .join('\n');

  it('values are bytes; cached includes SReclaimable; used is total - available', () => {
    const { memory, swap } = memoryFromMeminfo(
      parseMeminfo(meminfo({ MemTotal: 1000, MemFree: 200, MemAvailable: 600, Buffers: 50, Cached: 300, SReclaimable: 40, SwapTotal: 500, SwapFree: 100 })),
    );
    assert.deepEqual(memory, { total: 1000 * KiB, used: 400 * KiB, free: 200 * KiB, available: 600 * KiB, buffers: 50 * KiB, cached: 340 * KiB, usage_percent: 40 });
    assert.deepEqual(swap, { total: 500 * KiB, used: 400 * KiB, free: 100 * KiB });
  });

  it('MemAvailable above MemTotal (inside LXC) is replaced by MemFree', () => {
    const { memory } = memoryFromMeminfo(parseMeminfo(meminfo({ MemTotal: 1000, MemFree: 250, MemAvailable: 5000 })));
    assert.equal(memory.available, 250 * KiB);
    assert.equal(memory.used, 750 * KiB);
  });

  it('without MemAvailable (kernel < 3.14) used is total - free', () => {
    const { memory } = memoryFromMeminfo(parseMeminfo(meminfo({ MemTotal: 1000, MemFree: 300 })));
    assert.equal(memory.used, 700 * KiB);
  });

  it('a meminfo without MemTotal is refused, not read as an empty machine', () => {
    assert.throws(() => memoryFromMeminfo(parseMeminfo('garbage\n')), (error) => error instanceof HostDataError && error.code === 'host_data_malformed');
  });
});
