import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { telemetryProblems } from '../../../../gateway/config/validate/telemetry.ts';
import { parsed } from './parsed.ts';

const metrics = (raw: Record<string, unknown>) => telemetryProblems(parsed({ telemetry: { metrics: raw } }).telemetry);

describe('telemetry validator', () => {
  it('metrics off, or on loopback, have no problem; an address is not read while they are off', () => {
    assert.deepEqual(metrics({ address: 'nowhere' }), []);
    assert.deepEqual(metrics({ enabled: true }), []);
  });

  it('an unreadable address is an error; listening beyond loopback a warning', () => {
    assert.deepEqual(metrics({ enabled: true, address: 'nowhere' }), [
      { path: 'telemetry.metrics.address', message: "'nowhere' must look like 'tcp://127.0.0.1:9959'", severity: 'error' },
    ]);
    assert.deepEqual(metrics({ enabled: true, address: 'tcp://:9959' }), [
      { path: 'telemetry.metrics.address', message: "listens on 0.0.0.0: anyone who can reach it can read the gateway's metrics", severity: 'warning' },
    ]);
  });

  it("a path other than Authelia's /metrics is an error: the metrics are served at /metrics only", () => {
    assert.deepEqual(metrics({ enabled: true, address: 'tcp://127.0.0.1:9959/metrics' }), []);
    assert.deepEqual(metrics({ enabled: true, address: 'tcp://127.0.0.1:9959/stats' }), [
      {
        path: 'telemetry.metrics.address',
        message: "the path '/stats' is not supported: the metrics are served at /metrics (write 'tcp://127.0.0.1:9959/metrics' or no path)",
        severity: 'error',
      },
    ]);
  });
});
