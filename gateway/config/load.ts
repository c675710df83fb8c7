/** The gateway's configuration loader: lib/config-loader.ts with the gateway's schema and checks. */
import { createConfigLoader, type Loaded, type LoadOptions } from '../../lib/config-loader.ts';
import type { ConfigProblem } from '../../lib/config-problems.ts';
import { migrateDeprecated } from './deprecations.ts';
import { gatewayConfigSchema, gatewayJsonSchema, type GatewayConfig } from './schema.ts';
import { validateGatewayConfig } from './validate/index.ts';
import { OWN_SECRETS } from './validate/own-secrets.ts';

export { deepMerge, formatPath } from '../../lib/config-loader.ts';
export type { LoadOptions } from '../../lib/config-loader.ts';
export type LoadedConfig = Loaded<GatewayConfig>;

const loader = createConfigLoader({
  schema: gatewayConfigSchema,
  jsonSchema: gatewayJsonSchema,
  envPrefix: 'GATEHOUSE_',
  // the monitor's variables, and the CLI's own
  foreignEnv: [/^GATEHOUSE_MONITOR_/, /^GATEHOUSE_DATA$/, /^GATEHOUSE_CONFIG$/, /^GATEHOUSE_CONFIG_FILTERS$/],
  // holds a file path (Authelia excludes the same one)
  notSecrets: ['server.tls.key'],
  schemaFile: 'config/gatehouse.schema.json',
  validate: validateGatewayConfig,
  checkedSecrets: OWN_SECRETS,
  // Authelia's deprecated keys, moved to their replacements with a warning
  migrate: migrateDeprecated,
});

/** Parse an already-merged raw object (files + env). Throws ConfigError listing every problem. */
export function parseGatewayConfig(raw: Record<string, unknown>): { config: GatewayConfig; warnings: ConfigProblem[] } {
  return loader.parse(raw);
}

/** Load, merge, override and validate. Throws ConfigError with every problem found. */
export function loadGatewayConfig(options: LoadOptions): LoadedConfig {
  return loader.load(options);
}
