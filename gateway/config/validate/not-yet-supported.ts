/** Authelia options Gatehouse accepts but does not implement yet: ignored with a warning, or refused. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { isPlain, valueAt } from '../../../lib/config-paths.ts';
import { NOT_YET_SUPPORTED, type GatewayConfig } from '../schema.ts';

const IGNORED = 'is an Authelia option Gatehouse does not implement yet; it is ignored';

/**
 * Options whose effect would be to refuse more than Gatehouse does. Ignoring one would leave things
 * more open than the operator asked, so each is an error.
 */
const NOT_YET_SUPPORTED_NARROWING: readonly { path: string; applies: (value: unknown) => boolean; effect: string }[] = [
  { path: 'server.endpoints.rate_limits', applies: () => true, effect: 'it limits how often a client may try' },
  {
    path: 'webauthn.metadata',
    applies: (value) => isPlain(value) && value.enabled === true,
    effect: 'it refuses security keys the FIDO metadata service does not know or has revoked',
  },
  {
    path: 'webauthn.filtering',
    applies: (value) =>
      isPlain(value) && (value.prohibit_backup_eligibility === true || [value.permitted_aaguids, value.prohibited_aaguids].some((list) => Array.isArray(list) && list.length > 0)),
    effect: 'it limits which authenticators may be registered',
  },
];

/**
 * Authelia options with no counterpart in Gatehouse, read and warned about when set to anything but a
 * value that means what Gatehouse does anyway (`quiet`: false and '' unless given); none of them guards
 * anything, so ignoring one never opens anything.
 */
export const NO_EFFECT: readonly { path: string; why: string; quiet?: readonly unknown[] }[] = [
  // 'light' is Authelia's default (and in most of its files): quiet, like 'auto', which is what the portal does
  { path: 'theme', why: "the portal has one theme, light or dark as the browser prefers (Authelia's 'auto')", quiet: ['auto', 'light'] },
  { path: 'totp.disable_reuse_security_policy', why: 'Gatehouse always refuses a TOTP code that was already used' },
  { path: 'identity_validation.reset_password.jwt_algorithm', why: 'a reset link carries an opaque random token, kept only as its hash, not a signed JWT', quiet: ['HS256'] },
  { path: 'session.redis.maximum_active_connections', why: 'Gatehouse keeps one Redis connection for commands and one for session invalidations, not a pool', quiet: [8] },
  { path: 'session.redis.minimum_idle_connections', why: 'Gatehouse keeps one Redis connection for commands and one for session invalidations, not a pool', quiet: [0] },
  { path: 'notifier.template_path', why: "Gatehouse's e-mails are rendered from its own templates (templates/email/), Authelia's overrides are not read" },
  { path: 'server.asset_path', why: "the portal's pages and assets are Gatehouse's own; Authelia's overrides (logo, favicon, translations) are not read" },
  { path: 'server.disable_healthcheck', why: "Gatehouse writes no healthcheck file for Authelia's container script; check GET /api/health instead" },
  { path: 'webauthn.experimental_enable_passkey_upgrade', why: 'a credential is stored as the browser reported it at registration and never upgraded to a passkey' },
];

export function notYetSupportedProblems(config: GatewayConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  for (const { path, why, quiet = [false, ''] } of NO_EFFECT) {
    const value = valueAt(config, path.split('.'));
    if (value !== undefined && !quiet.includes(value)) found.push(configWarning(path, `has no effect: ${why}`));
  }
  for (const path of NOT_YET_SUPPORTED) {
    if (valueAt(config, path.split('.')) !== undefined) found.push(configWarning(path, IGNORED));
  }
  for (const { path, applies, effect } of NOT_YET_SUPPORTED_NARROWING) {
    const value = valueAt(config, path.split('.'));
    if (value === undefined) continue;
    if (applies(value)) {
      found.push(configError(path, `is an Authelia option Gatehouse does not implement yet, and ${effect}: ignoring it would leave Gatehouse more open than configured, so it is refused; remove it to start without it`));
    } else {
      found.push(configWarning(path, IGNORED));
    }
  }
  return found;
}
