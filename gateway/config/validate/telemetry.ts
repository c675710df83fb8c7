/** `telemetry`: the metrics listener. */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseListenAddress } from '../../../lib/net/address.ts';
import type { GatewayConfig } from '../schema.ts';

export function telemetryProblems(telemetry: GatewayConfig['telemetry']): ConfigProblem[] {
  const metrics = telemetry.metrics;
  if (!metrics.enabled) return [];
  const listen = parseListenAddress(metrics.address);
  if (!listen) return [configError('telemetry.metrics.address', `'${shownValue(metrics.address)}' must look like 'tcp://127.0.0.1:9959'`)];
  // Authelia's default is tcp://:9959/metrics; the gateway serves its metrics at /metrics only
  if (listen.path !== '' && listen.path !== '/metrics') {
    return [configError('telemetry.metrics.address', `the path '${shownValue(listen.path)}' is not supported: the metrics are served at /metrics (write 'tcp://${listen.host}:${listen.port}/metrics' or no path)`)];
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(listen.host)) {
    return [configWarning('telemetry.metrics.address', `listens on ${listen.host}: anyone who can reach it can read the gateway's metrics`)];
  }
  return [];
}
