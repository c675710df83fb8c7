// The scrape: valid exposition text whose values are this machine's, from a registry of its own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createHostMetricsRegistry } from '../../../../monitor/api/host/prometheus.ts';
import { assertNear, df, drift, free, procNetDevBytes, sendOverLoopback } from './host-tools.ts';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
// Prometheus parses values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan")
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?)';
/** A sample line of the text format 0.0.4: name, optional labels, value, optional ms timestamp. */
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?,?\\})? ${VALUE}(?: -?\\d+)?$`);
const COMMENT = new RegExp(`^# (?:HELP ${NAME} .*|TYPE ${NAME} (?:counter|gauge|histogram|summary|untyped))$`);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every line must be a comment, a sample or blank; anything else fails the test. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      assert.match(line, COMMENT);
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1] ?? '', type[2] ?? '');
      continue;
    }
    assert.match(line, SAMPLE);
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of line.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: /^[^{ ]+/.exec(line)?.[0] ?? '', labels, value: Number(line.split(' ').at(-1)) });
  }
  return { samples, types };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found, `${name}${JSON.stringify(labels)} is exported`);
  return found.value;
}

describe('the scrape is valid Prometheus text', () => {
  it('every line parses and each metric has the expected type', async () => {
    const { samples, types } = parseExposition(await createHostMetricsRegistry().metrics());
    assert.equal(types.get('gatehouse_monitor_cpu_usage_percent'), 'gauge');
    assert.equal(types.get('gatehouse_monitor_memory_bytes'), 'gauge');
    assert.equal(types.get('gatehouse_monitor_filesystem_bytes'), 'gauge');
    assert.equal(types.get('gatehouse_monitor_network_bytes_total'), 'counter');
    assert.equal(types.get('gatehouse_monitor_uptime_seconds'), 'gauge');
    const cpu = valueOf(samples, 'gatehouse_monitor_cpu_usage_percent');
    assert.ok(cpu >= 0 && cpu <= 100);
    assert.ok(valueOf(samples, 'gatehouse_monitor_uptime_seconds') > 0);
    assert.ok(valueOf(samples, 'gatehouse_monitor_load_average', { period: '5m' }) >= 0);
  });
});

describe('the values are the ones free, df and /proc/net/dev report', () => {
  it('memory, the root filesystem and lo\'s counters', async () => {
    const registry = createHostMetricsRegistry();
    const loBefore = await procNetDevBytes('lo');
    await sendOverLoopback(1024 * 1024);
    const [{ samples }, tool, rows] = await Promise.all([registry.metrics().then(parseExposition), free(), df()]);
    assert.equal(valueOf(samples, 'gatehouse_monitor_memory_bytes', { kind: 'total' }), tool.mem.total);
    assertNear(valueOf(samples, 'gatehouse_monitor_memory_bytes', { kind: 'available' }), tool.mem.available, drift(tool.mem.available), 'available');
    assert.equal(valueOf(samples, 'gatehouse_monitor_memory_bytes', { kind: 'swap_total' }), tool.swap.total);
    assert.equal(valueOf(samples, 'gatehouse_monitor_filesystem_bytes', { mountpoint: '/', kind: 'size' }), rows.get('/')?.size);
    const received = valueOf(samples, 'gatehouse_monitor_network_bytes_total', { interface: 'lo', direction: 'receive' });
    const sent = valueOf(samples, 'gatehouse_monitor_network_bytes_total', { interface: 'lo', direction: 'transmit' });
    assert.ok(received >= loBefore.rx + 1024 * 1024, `lo received ${received - loBefore.rx} more`);
    assert.ok(sent >= loBefore.tx + 1024 * 1024);
  });
});

describe('the registry is the monitor\'s own', () => {
  it('nothing lands in prom-client\'s global registry, and two registries live side by side', async () => {
    const first = createHostMetricsRegistry();
    const second = createHostMetricsRegistry();
    assert.match(await second.metrics(), /gatehouse_monitor_uptime_seconds \d+/);
    assert.match(await first.metrics(), /gatehouse_monitor_uptime_seconds \d+/);
    assert.doesNotMatch(await globalRegistry.metrics(), /gatehouse_monitor_/);
  });

  it('process metrics only when asked for', async () => {
    assert.doesNotMatch(await createHostMetricsRegistry().metrics(), /gatehouse_monitor_process_/);
    const { types } = parseExposition(await createHostMetricsRegistry({ processMetrics: true }).metrics());
    assert.equal(types.get('gatehouse_monitor_process_resident_memory_bytes'), 'gauge');
  });
});
