// The public summary: what it says about health, and that it says nothing more than hostname and uptime.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { evaluateHealth, formatUptime, systemInfo } from '../../../../monitor/api/host/system-info.ts';
import { assertNear } from './host-tools.ts';

describe('health: above 90% is a warning, above 97% critical, for memory and for each filesystem', () => {
  const cases: [string, { memoryPercent: number; filesystemPercents: number[] }, string, string][] = [
    ['all below 90%', { memoryPercent: 89.9, filesystemPercents: [90, 12] }, 'healthy', 'All systems operational'],
    ['memory above 90%', { memoryPercent: 90.1, filesystemPercents: [10] }, 'warning', 'memory use above 90%'],
    ['memory above 97%', { memoryPercent: 97.5, filesystemPercents: [] }, 'critical', 'memory use above 97%'],
    ['one filesystem above 90%', { memoryPercent: 10, filesystemPercents: [95, 20] }, 'warning', '1 filesystem above 90% full'],
    [
      'the worst wins and every problem is counted',
      { memoryPercent: 92, filesystemPercents: [98, 99, 91] },
      'critical',
      'memory use above 90%; 2 filesystems above 97% full; 1 filesystem above 90% full',
    ],
  ];
  for (const [name, usage, status, summary] of cases) {
    it(name, () => assert.deepEqual(evaluateHealth(usage), { status, summary }));
  }
});

describe('uptime reads "Xd Yh Zm"', () => {
  it('days, hours and minutes, seconds dropped', () => {
    assert.equal(formatUptime(0), '0d 0h 0m');
    assert.equal(formatUptime(59), '0d 0h 0m');
    assert.equal(formatUptime(90_061), '1d 1h 1m');
    assert.equal(formatUptime(40 * 86_400 + 23 * 3_600 + 59 * 60 + 59), '40d 23h 59m');
  });
});

describe('systemInfo on this machine', () => {
  it('holds exactly hostname, uptime, health and timestamp, from the host and the injected clock', async () => {
    const info = await systemInfo({ now: () => Date.UTC(2030, 0, 2, 3, 4, 5) });
    assert.deepEqual(Object.keys(info).sort(), ['health', 'hostname', 'timestamp', 'uptime', 'uptime_seconds']);
    assert.deepEqual(Object.keys(info.health).sort(), ['status', 'summary']);
    assert.equal(info.hostname, hostname());
    assertNear(info.uptime_seconds, Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]), 2, 'uptime');
    assert.equal(info.uptime, formatUptime(info.uptime_seconds));
    assert.ok(['healthy', 'warning', 'critical'].includes(info.health.status));
    assert.equal(info.timestamp, '2030-01-02T03:04:05.000Z');
    assert.ok(!info.health.summary.includes('/'), 'no mountpoint is named');
  });
});
