/**
 * Cross-field checks of a parsed configuration, one validator per section. Each returns its problems as
 * data, `{ path, message, severity }`; lib/config-problems.ts renders them as `config: <path>: <message>`.
 */
import type { ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';
import { namedNetworks } from '../definitions.ts';
import { accessControlProblems } from './access-control.ts';
import { authenticationBackendProblems } from './authentication-backend.ts';
import { definitionsProblems } from './definitions.ts';
import { identityProvidersProblems } from './identity-providers.ts';
import { identityAssertionProblems } from './identity-assertion.ts';
import { notYetSupportedProblems } from './not-yet-supported.ts';
import { notifierProblems } from './notifier.ts';
import { passwordPolicyProblems } from './password-policy.ts';
import { regulationProblems } from './regulation.ts';
import { selfServiceProblems } from './self-service.ts';
import { serverPathProblems } from './server-path.ts';
import { serverProblems } from './server.ts';
import { portalUrlRequiredProblems, sessionProblems } from './session.ts';
import { storageProblems } from './storage.ts';
import { telemetryProblems } from './telemetry.ts';
import { totpProblems } from './totp.ts';

/** In the order the operator reads them: the options Gatehouse does not implement first. */
const SECTIONS: readonly ((config: GatewayConfig) => ConfigProblem[])[] = [
  notYetSupportedProblems,
  (config) => serverProblems(config.server, config.identity_providers?.oidc !== undefined),
  serverPathProblems,
  (config) => authenticationBackendProblems(config.authentication_backend),
  (config) => sessionProblems(config.session),
  (config) => regulationProblems(config.regulation),
  (config) => passwordPolicyProblems(config.password_policy),
  (config) => storageProblems(config.storage),
  (config) => notifierProblems(config.notifier),
  (config) => telemetryProblems(config.telemetry),
  (config) => totpProblems(config.totp),
  (config) => identityAssertionProblems(config.identity_assertion),
  definitionsProblems,
  (config) => accessControlProblems(config.access_control, Object.keys(config.definitions?.network ?? {})),
  (config) => identityProvidersProblems(config.identity_providers, { networks: namedNetworks(config), userAttributes: Object.keys(config.definitions?.user_attributes ?? {}) }),
  portalUrlRequiredProblems,
  selfServiceProblems,
];

export function validateGatewayConfig(config: GatewayConfig): ConfigProblem[] {
  return SECTIONS.flatMap((section) => section(config));
}
