/**
 * Cross-field checks of the monitor's configuration, as data (lib/config-problems.ts) at the path of
 * the option each names; rendered like the gateway's, `config: <path>: <message>`.
 */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../lib/config-problems.ts';
import { parseCidr, parseListenAddress } from '../../lib/net/address.ts';
import { passwordPolicyProblems } from '../../lib/password-policy.ts';
import type { MonitorConfig } from './schema.ts';

export function validateMonitorConfig(config: MonitorConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const listen = parseListenAddress(config.server.address);
  if (!listen || listen.path !== '') {
    found.push(configError('server.address', `'${shownValue(config.server.address)}' must look like 'tcp://127.0.0.1:8008' or 'tcp://:8008'${listen ? ' (the monitor takes no path)' : ''}`));
  }
  config.trusted_proxies.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (!parsed) found.push(configError(`trusted_proxies[${i}]`, `'${cidr}' is not an IP address or CIDR range`));
    else if (parsed.prefix === 0) found.push(configWarning(`trusted_proxies[${i}]`, `'${cidr}' is every address: anyone can claim any identity with a Remote-User header`));
  });
  const assertion = config.remote_user.assertion;
  if (assertion) {
    const url = new URL(assertion.jwks_url);
    if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      found.push(configError('remote_user.assertion.jwks_url', `'${shownValue(assertion.jwks_url)}' must be https (plain http only on loopback)`));
    }
    if (assertion.max_age > 300) found.push(configWarning('remote_user.assertion.max_age', `is ${assertion.max_age}s: a captured assertion can be replayed that long`));
  }
  const fullAdminBy = headersAloneGrantFullAdmin(config);
  if (fullAdminBy !== null) {
    found.push(configWarning(
      'remote_user.assertion',
      `INSECURE: is not set, so a ${config.remote_user.user_header} header alone is believed: any process that can connect from ` +
        `trusted_proxies (${config.trusted_proxies.join(', ')}) becomes full_admin (${fullAdminBy}), with the web terminal. ` +
        "Set remote_user.assertion (jwks_url, audience) and the gateway's identity_assertion so only the gateway's signed identity counts",
    ));
  }
  if (config.remote_user.default_scope === 'full_admin') {
    found.push(configWarning('remote_user.default_scope', "is full_admin: every gateway user gets the terminal and can change the monitor's security settings"));
  }
  const refresh = config.terminal.refresh_interval;
  if (refresh < 3) found.push(configError('terminal.refresh_interval', `${refresh}s is too short: at least 3s (the dashboard re-confirms every third of it)`));
  else if (refresh > 30) found.push(configWarning('terminal.refresh_interval', `is ${refresh}s: a terminal can outlive the sign-in that opened it by that long`));
  if (config.terminal.allow_root) found.push(configWarning('terminal.allow_root', 'is true: the web terminal can be a root shell'));
  found.push(...passwordPolicyProblems(config.password_policy));
  return found;
}

/**
 * How trusted Remote-* headers without the gateway's signed assertion can grant full_admin (a
 * description for the warning), or null when they cannot: no trusted peer, the assertion is
 * required, or no mapping reaches full_admin.
 */
function headersAloneGrantFullAdmin(config: MonitorConfig): string | null {
  const ru = config.remote_user;
  if (ru.assertion !== undefined || config.trusted_proxies.length === 0) return null;
  if (ru.default_scope === 'full_admin') return 'remote_user.default_scope';
  const groups = Object.entries(ru.group_scopes).filter(([, scope]) => scope === 'full_admin').map(([group]) => group);
  return groups.length > 0 ? `${ru.groups_header}: ${groups.join(', ')}` : null;
}
