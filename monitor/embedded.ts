/**
 * The monitor as `npm start` runs it: behind the gateway's embedded proxy, trusting Remote-User only
 * from loopback and only with the gateway's signed assertion; `admins` get full_admin.
 */
import { join, resolve } from 'node:path';

export function embeddedMonitorDefaults(env: NodeJS.ProcessEnv, gatewayPort: number): Record<string, unknown> {
  const dir = resolve(env.GATEHOUSE_DATA ?? 'data');
  return {
    server: { address: 'tcp://127.0.0.1:8008' },
    log: { level: 'info', format: 'text' },
    data_dir: join(dir, 'monitor'),
    trusted_proxies: ['127.0.0.1/32', '::1/128'],
    remote_user: {
      group_scopes: { admins: 'full_admin' },
      default_scope: 'read_only',
      // the gateway's embedded default portal (gateway/embedded.ts)
      portal_url: `http://localhost:${gatewayPort}/auth/`,
      assertion: { jwks_url: `http://127.0.0.1:${gatewayPort}/jwks.json`, audience: 'monitor' },
    },
  };
}
