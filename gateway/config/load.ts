/** The gateway's configuration loader: lib/config-loader.ts with the gateway's schema and checks. */
import { createConfigLoader, type Loaded, type LoadOptions } from '../../lib/config-loader.ts';
import { gatewayConfigSchema, gatewayJsonSchema, type GatewayConfig } from './schema.ts';
import { OWN_SECRETS, validateGatewayConfig } from './validate.ts';

export { deepMerge, formatPath } from '../../lib/config-loader.ts';
export type { LoadOptions } from '../../lib/config-loader.ts';
export type LoadedConfig = Loaded<GatewayConfig>;

const loader = createConfigLoader({
  schema: gatewayConfigSchema,
  jsonSchema: gatewayJsonSchema,
  envPrefix: 'GATEHOUSE_',
  // the monitor's variables, and the CLI's own
  foreignEnv: [/^GATEHOUSE_MONITOR_/, /^GATEHOUSE_DATA$/, /^GATEHOUSE_CONFIG$/],
  // holds a file path (Authelia excludes the same one)
  notSecrets: ['server.tls.key'],
  schemaFile: 'config/gatehouse.schema.json',
  validate: validateGatewayConfig,
  checkedSecrets: OWN_SECRETS,
});

/** Parse an already-merged raw object (files + env). Throws ConfigError listing every problem. */
export function parseGatewayConfig(raw: Record<string, unknown>, problems: string[] = [], warnings: string[] = []): { config: GatewayConfig; warnings: string[] } {
  return loader.parse(raw, problems, warnings);
}

/** Load, merge, override and validate. Throws ConfigError with every problem found. */
export function loadGatewayConfig(options: LoadOptions): LoadedConfig {
  return loader.load(options);
}
