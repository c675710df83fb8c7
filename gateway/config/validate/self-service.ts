/**
 * Settings that each parse but together leave people stuck: a `two_factor` rule nobody can reach (every
 * second-factor method disabled), and password reset that cannot deliver its mail (no notifier, or the
 * filesystem notifier, which writes the mail to a file on the server instead of sending it).
 */
import { configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';

type SelfServiceConfig = Pick<GatewayConfig, 'access_control' | 'totp' | 'webauthn' | 'notifier' | 'authentication_backend'>;

export function selfServiceProblems(config: SelfServiceConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const { access_control: acl } = config;
  const ruleIndex = acl.rules.findIndex((rule) => rule.policy === 'two_factor');
  const needsTwoFactor = ruleIndex !== -1 || acl.default_policy === 'two_factor';
  if (needsTwoFactor && config.totp.disable && config.webauthn.disable) {
    const where = ruleIndex !== -1 ? `access_control.rules[${ruleIndex}]` : 'access_control.default_policy';
    found.push(configWarning(where, "asks for 'two_factor' but totp.disable and webauthn.disable are both true: nobody can reach it; enable a second-factor method or use 'one_factor'"));
  }
  // without any notifier reset is simply off (the portal hides it); app.ts logs that at startup
  const reset = config.authentication_backend.password_reset;
  if (!reset.disable && reset.custom_url === undefined && config.notifier?.filesystem) {
    found.push(configWarning('notifier.filesystem', "writes mail to a file on the server while password reset is enabled: users asking for a reset will never get the link; configure 'notifier.smtp' or set 'authentication_backend.password_reset.disable: true'"));
  }
  return found;
}
