/** Cross-field checks of the monitor's configuration, each message naming its option. */
import type { ValidationResult } from '../../lib/config-loader.ts';
import { parseCidr, parseListenAddress } from '../../lib/net/address.ts';
import type { MonitorConfig } from './schema.ts';

export function validateMonitorConfig(config: MonitorConfig): ValidationResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!parseListenAddress(config.server.address)) {
    problems.push(`config: server.address: '${config.server.address}' must look like 'tcp://127.0.0.1:8008' or 'tcp://:8008'`);
  }
  config.trusted_proxies.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (!parsed) problems.push(`config: trusted_proxies[${i}]: '${cidr}' is not an IP address or CIDR range`);
    else if (parsed.prefix === 0) warnings.push(`trusted_proxies contains '${cidr}': anyone can claim any identity with a Remote-User header`);
  });
  const assertion = config.remote_user.assertion;
  if (assertion) {
    const url = new URL(assertion.jwks_url);
    if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      problems.push(`config: remote_user.assertion.jwks_url: '${assertion.jwks_url}' must be https (plain http only on loopback)`);
    }
    if (assertion.max_age > 300) warnings.push(`remote_user.assertion.max_age is ${assertion.max_age}s: a captured assertion can be replayed that long`);
  }
  const fullAdminBy = headersAloneGrantFullAdmin(config);
  if (fullAdminBy !== null) {
    warnings.push(
      `INSECURE: remote_user.assertion is not set, so a ${config.remote_user.user_header} header alone is believed: any process that can connect from ` +
        `trusted_proxies (${config.trusted_proxies.join(', ')}) becomes full_admin (${fullAdminBy}), with the web terminal. ` +
        "Set remote_user.assertion (jwks_url, audience) and the gateway's identity_assertion so only the gateway's signed identity counts",
    );
  }
  if (config.remote_user.default_scope === 'full_admin') {
    warnings.push('remote_user.default_scope is full_admin: every gateway user gets the terminal and can change the monitor\'s security settings');
  }
  const refresh = config.terminal.refresh_interval;
  if (refresh < 3) problems.push(`config: terminal.refresh_interval: ${refresh}s is too short: at least 3s (the dashboard re-confirms every third of it)`);
  else if (refresh > 30) warnings.push(`terminal.refresh_interval is ${refresh}s: a terminal can outlive the sign-in that opened it by that long`);
  if (config.terminal.allow_root) warnings.push('terminal.allow_root is true: the web terminal can be a root shell');
  return { problems, warnings };
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
