// Item 19: the monitor's JSON log lines carried `service` twice (the base logger's and a child's),
// which JSON parsers resolve differently (first or last wins) and log shippers may reject.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { runMonitor } from '../../monitor/main.ts';
import type { Monitor } from '../../monitor/app.ts';
import { makeTempDir } from '../helpers/tmp.ts';

describe('monitor log lines name their service once', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let text = '';

  before(async () => {
    const temp = await makeTempDir('gatehouse-monitor-log-');
    cleanup = temp.cleanup;
    const { config, warnings } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir, log: { level: 'info', format: 'json' } });
    const stdout = new PassThrough();
    stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    monitor = await runMonitor({ config, warnings, files: [], credentialFiles: [] }, stdout);
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  it('every JSON line has exactly one "service" key, and it says gatehouse-monitor', () => {
    const lines = text.split('\n').filter((line) => line !== '');
    assert.ok(lines.some((line) => line.includes('monitor listening')), text);
    for (const line of lines) {
      assert.equal(line.match(/"service":/g)?.length, 1, `one service key in: ${line}`);
      assert.equal((JSON.parse(line) as { service: string }).service, 'gatehouse-monitor');
    }
  });
});
