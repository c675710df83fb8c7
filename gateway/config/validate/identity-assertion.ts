/** `identity_assertion`: which apps receive the signed identity, and for how long it holds. */
import { configError, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';
import { DOMAIN_RE } from './domain-names.ts';

export function identityAssertionProblems(assertion: GatewayConfig['identity_assertion']): ConfigProblem[] {
  if (!assertion) return [];
  const found: ConfigProblem[] = [];
  if (Object.keys(assertion.audiences).length === 0) {
    found.push(configError('identity_assertion.audiences', 'name at least one app host and the audience it checks (e.g. monitor.example.com: monitor)'));
  }
  for (const host of Object.keys(assertion.audiences)) {
    if (!DOMAIN_RE.test(host)) found.push(configError(`identity_assertion.audiences.${host}`, 'the key must be a lower-case host name'));
  }
  if (assertion.lifespan < 10 || assertion.lifespan > 300) {
    found.push(configError('identity_assertion.lifespan', `must be between 10s and 5m (${assertion.lifespan}s); a longer-lived assertion can be replayed longer`));
  }
  return found;
}
