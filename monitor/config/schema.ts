/**
 * The monitor's configuration (config/monitor.yml): types and defaults in one place. Loaded with the
 * same conventions as the gateway (lib/config-loader.ts), with environment variables GATEHOUSE_MONITOR_<PATH>.
 */
import { z } from 'zod';
import { passwordChecksField, timeoutMs, stringList } from '../../lib/config-fields.ts';
import { parseDuration, DURATION_HELP } from '../../lib/duration.ts';
import { passwordPolicyField } from '../../lib/password-policy.ts';

function seconds(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const parsed = parseDuration(value);
      if (parsed === null || parsed < 0) {
        ctx.addIssue({ code: 'custom', message: `'${value}' is not ${DURATION_HELP}` });
        return z.NEVER;
      }
      return parsed;
    });
}

const scope = z.enum(['read_only', 'full_admin']);

const server = z.strictObject({
  address: z.string().default('tcp://127.0.0.1:8008'),
  tls: z.strictObject({ certificate: z.string().min(1), key: z.string().min(1) }).optional(),
  /** On SIGTERM/SIGINT, how long running requests may finish before the process exits anyway, in ms. */
  shutdown_timeout: timeoutMs('10s'),
});

const remoteUser = z.strictObject({
  user_header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').default('Remote-User'),
  groups_header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').default('Remote-Groups'),
  /** Gateway group → scope; a user in several mapped groups gets the strongest. */
  group_scopes: z.record(z.string(), scope).default({}),
  /** Scope of a gateway user in no mapped group. */
  default_scope: scope.default('read_only'),
  /**
   * The gateway's portal (its session.cookies authelia_url). The dashboard's "Sign out" then ends the
   * gateway session too, and "managed by the gateway" links to the portal's settings page.
   */
  portal_url: z.string().url().optional(),
  /** When set, a trusted Remote-User also needs the gateway's signed assertion. */
  assertion: z
    .strictObject({
      jwks_url: z.string().url(),
      audience: z.string().min(1),
      header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').default('Remote-Assertion'),
      /** Longest accepted lifetime of an assertion. */
      max_age: seconds('60s'),
    })
    .optional(),
});

const terminal = z.strictObject({
  shell: z.string().min(1).default('/bin/bash'),
  max_sessions: z.number().int().min(0).max(64).default(4),
  /** Account the shell runs as when the monitor runs as root; root itself only with allow_root. */
  user: z.string().min(1).default('nobody'),
  allow_root: z.boolean().default(false),
  /**
   * How long an open terminal runs on an identity not checked again (Authelia's refresh_interval, for
   * terminals): tokens are re-checked at least this often, and a gateway sign-in must be re-confirmed
   * through the gateway within it (the dashboard does so every third of it) or the terminal closes.
   */
  refresh_interval: seconds('30s'),
});

const log = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  format: z.enum(['json', 'text']).default('json'),
  file_path: z.string().optional(),
  keep_stdout: z.boolean().default(false),
});

export const monitorConfigSchema = z.strictObject({
  server: server.prefault({}),
  log: log.prefault({}),
  /** auth.json and the avatar live here. */
  data_dir: z.string().min(1).default('./data/monitor'),
  /** Peers whose Remote-User / X-Forwarded-For are believed (the gateway or the reverse proxy). */
  trusted_proxies: stringList().default(['127.0.0.1/32', '::1/128']),
  remote_user: remoteUser.prefault({}),
  /** One line per authentication event, for Fail2Ban. Defaults to <data_dir>/auth.log. */
  audit_log: z.string().min(1).optional(),
  terminal: terminal.prefault({}),
  password_checks: passwordChecksField(),
  /** Authelia's password_policy: the rule for the local account's new passwords, the same as the gateway's. */
  password_policy: passwordPolicyField(),
  /** Session lifetime of an interactive login, and the default lifetime of API tokens. */
  session_lifetime: seconds('24h'),
  api_token_lifetime: seconds('365d'),
  /**
   * How long after a password login (or password change) its session may set up 2FA or turn the
   * login off without typing the password again, as ProxMenux's dashboard asks. 0: always ask.
   */
  recent_login: seconds('10m'),
});

export type MonitorConfig = z.output<typeof monitorConfigSchema>;
export type Scope = z.output<typeof scope>;

export function monitorJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(monitorConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://gatehouse.invalid/schemas/monitor.json', title: 'Gatehouse monitor configuration' };
}
