/**
 * server.address's path (`tcp://:9091/auth`): the one prefix every gateway endpoint is served under
 * (Authelia's subpath), and what it asks of the portal URLs and the embedded proxy. Requests keep their
 * path as the browser wrote it (a proxy in front passes `/auth/…` through), so each authelia_url must
 * itself be under the prefix.
 */
import { configError, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseListenAddress } from '../../../lib/net/address.ts';
import type { GatewayConfig } from '../schema.ts';

/** The path server.address names ('' for none, else `/segment`); '' when the address is invalid (reported by serverProblems). */
export function serverPathOf(address: string): string {
  return parseListenAddress(address)?.path ?? '';
}

/** As Authelia's ValidateServerAddress: one segment of letters and digits. */
function pathSyntaxProblem(path: string): ConfigProblem | null {
  if (path === '') return null;
  const segments = path.slice(1).split('/');
  if (segments.length > 1) {
    return configError('server.address', `the path '${shownValue(path)}' must be a single segment (like '/${shownValue(segments[0] ?? '')}')`);
  }
  if (!/^[A-Za-z0-9]+$/.test(segments[0]!)) {
    return configError('server.address', `the path '${shownValue(path)}' must be letters and digits only (like '/auth')`);
  }
  return null;
}

export function serverPathProblems(config: GatewayConfig): ConfigProblem[] {
  const prefix = serverPathOf(config.server.address);
  if (prefix === '') return [];
  const syntax = pathSyntaxProblem(prefix);
  if (syntax) return [syntax];
  const found: ConfigProblem[] = [];
  config.session.cookies.forEach((cookie, i) => {
    const portal = cookie.authelia_url ?? cookie.portal_url;
    const url = URL.parse(portal ?? '');
    if (url === null) return; // a missing or unreadable URL is the session validator's to report
    const path = url.pathname.replace(/\/+$/, '');
    // deny: a portal outside the prefix would never be served (every request outside it is a 404)
    if (path !== prefix && !path.startsWith(`${prefix}/`)) {
      found.push(
        configError(
          `session.cookies[${i}].${cookie.authelia_url === undefined ? 'portal_url' : 'authelia_url'}`,
          `the path '${shownValue(url.pathname)}' is outside server.address's path '${prefix}': Gatehouse answers only under ${prefix}/, so the portal must live there (like '${url.origin}${prefix}/')`,
        ),
      );
    }
  });
  if (Object.keys(config.server.upstreams).length > 0) {
    found.push(
      configError(
        'server.upstreams',
        `cannot be used with a path in server.address ('${prefix}'): the embedded proxy answers for whole hosts, outside any path; put a proxy in front of Gatehouse, or listen without a path`,
      ),
    );
  }
  return found;
}
