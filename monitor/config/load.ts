/** The monitor's configuration loader: lib/config-loader.ts with the monitor's schema and checks. */
import { createConfigLoader, type Loaded, type LoadOptions } from '../../lib/config-loader.ts';
import type { ConfigProblem } from '../../lib/config-problems.ts';
import { monitorConfigSchema, monitorJsonSchema, type MonitorConfig } from './schema.ts';
import { validateMonitorConfig } from './validate.ts';

export type LoadedMonitorConfig = Loaded<MonitorConfig>;

const loader = createConfigLoader({
  schema: monitorConfigSchema,
  jsonSchema: monitorJsonSchema,
  envPrefix: 'GATEHOUSE_MONITOR_',
  foreignEnv: [],
  notSecrets: ['server.tls.key'],
  schemaFile: 'config/monitor.schema.json',
  validate: validateMonitorConfig,
});

export function parseMonitorConfig(raw: Record<string, unknown>): { config: MonitorConfig; warnings: ConfigProblem[] } {
  return loader.parse(raw);
}

export function loadMonitorConfig(options: LoadOptions): LoadedMonitorConfig {
  return loader.load(options);
}
