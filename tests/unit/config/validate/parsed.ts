/** Sections as the validators receive them: parsed by the schema, defaults filled in. */
import { gatewayConfigSchema, type GatewayConfig } from '../../../../gateway/config/schema.ts';

export function parsed(raw: Record<string, unknown> = {}): GatewayConfig {
  return gatewayConfigSchema.parse(raw);
}
