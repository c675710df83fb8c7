/**
 * The gateway's configuration: types and defaults in one place, with Authelia's key names wherever the
 * meaning is the same. Cross-field checks and their messages live in validate.ts.
 */
import { z } from 'zod';
import { passwordPolicyField } from '../../lib/password-policy.ts';
import { duration, passwordChecksField, timeoutMs, stringList } from '../../lib/config-fields.ts';
import { EXTRA_VALUE_TYPES } from '../users/extra-attributes.ts';
import { identityProviders } from './oidc-schema.ts';
import { ldapBackend } from './ldap-schema.ts';
import { tlsClient } from './tls-client-schema.ts';
import { defaultSecondFactorMethod, identityValidation, totp, webauthn } from './second-factor-schema.ts';

/** Where a forward-auth endpoint looks for credentials, in Authelia's names (authz/authn-strategies.ts implements them). */
export const AUTHN_STRATEGY_NAMES = ['CookieSession', 'HeaderAuthorization', 'HeaderProxyAuthorization', 'HeaderAuthRequestProxyAuthorization', 'HeaderLegacy'] as const;
export type AuthnStrategyName = (typeof AUTHN_STRATEGY_NAMES)[number];

/**
 * Authelia options for features Gatehouse does not have yet. They are accepted, so an Authelia file
 * loads, and ignored with a warning at every start; ignoring them never opens anything (a two_factor
 * rule without TOTP configured stays unreachable, it does not become one_factor).
 */
const notYetSupported = z.unknown().optional();

export const NOT_YET_SUPPORTED = [
  'duo_api',
  'ntp', 'privacy_policy',
  'telemetry.metrics.buffers', 'telemetry.metrics.timeouts',
  'server.buffers', 'server.timeouts', 'server.endpoints.enable_pprof', 'server.endpoints.enable_expvars', 'server.headers',
] as const;

/** The algorithms Authelia writes hashes with; Gatehouse reads them all and writes argon2id. */
export const PASSWORD_ALGORITHMS = ['argon2', 'sha2crypt', 'pbkdf2', 'bcrypt', 'scrypt'] as const;

const policy = z.enum(['bypass', 'one_factor', 'two_factor', 'deny']);

const accessControlRule = z.strictObject({
  domain: stringList().optional(),
  domain_regex: stringList().optional(),
  resources: stringList().optional(),
  subject: z
    .union([z.string(), z.array(z.union([z.string(), z.array(z.string())]))])
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .optional(),
  methods: stringList().optional(),
  networks: stringList().optional(),
  /** Outer list OR, inner list AND; each condition is checked by validate/access-control.ts, as Authelia words it. */
  query: z.array(z.array(z.strictObject({ key: z.string().optional(), value: z.unknown().optional(), operator: z.string().optional() }))).optional(),
  policy,
});

/**
 * Names reused elsewhere (Authelia's `definitions`): `network.<name>` is a list of CIDRs any `networks`
 * option may name (config/definitions.ts resolves them); `user_attributes.<name>.expression` computes
 * an attribute from the user's details in CEL (expression/user-attributes.ts).
 */
const definitions = z.strictObject({
  network: z.record(z.string().min(1), stringList()).default({}),
  user_attributes: z.record(z.string().min(1), z.strictObject({ expression: z.string() })).default({}),
});

const accessControl = z.strictObject({
  default_policy: policy.default('deny'),
  networks: z.array(z.strictObject({ name: z.string().min(1), networks: stringList() })).default([]),
  rules: z.array(accessControlRule).default([]),
});

const cookie = z.strictObject({
  domain: z.string().min(1),
  /** Where the portal is served for this domain. `portal_url` is accepted as an alias. */
  authelia_url: z.string().optional(),
  portal_url: z.string().optional(),
  default_redirection_url: z.string().optional(),
  name: z.string().optional(),
  same_site: z.enum(['lax', 'strict', 'none']).optional(),
  expiration: duration().optional(),
  inactivity: duration().optional(),
  remember_me: duration().optional(),
  /**
   * Set only by the deprecation table, for the cookie a legacy `session.domain` makes (Authelia's
   * `Legacy`, which no file sets): it may go without authelia_url. Not in the JSON schema; written in a
   * file it is refused.
   */
  legacy: z.literal(true).optional(),
});

/** A Sentinel; port 0 is the default 26379, as in Authelia. */
const redisNode = z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535).default(26379).transform((port) => port || 26379) });

const redis = z
  .strictObject({
    /**
     * The Redis server; with `high_availability`, one more Sentinel beside `nodes` (Authelia's reading), and
     * optional there when `nodes` lists the Sentinels (validate/session.ts says when neither is set).
     */
    host: z.string().min(1).optional(),
    /** 6379, or 26379 (a Sentinel's) with `high_availability`; 0 (without it) makes `host` a socket's path. */
    port: z.number().int().min(0).max(65535).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    database_index: z.number().int().min(0).default(0),
    maximum_active_connections: z.number().int().min(1).default(8),
    minimum_idle_connections: z.number().int().min(0).default(0),
    /** Authelia retries a failed command; Gatehouse never does (validate/session.ts warns when set). */
    max_retries: z.number().int().min(-1).optional(),
    /** Connecting (Authelia's key). */
    timeout: duration('5s'),
    /**
     * Each command, in ms. Short: forward auth waits this long at most for a hung Redis before it denies,
     * and a login answers 503 instead of waiting.
     */
    command_timeout: timeoutMs('500ms'),
    tls: tlsClient.optional(),
    /** Redis Sentinel: the master named `sentinel_name`, found through `host` and `nodes`. */
    high_availability: z
      .strictObject({
        sentinel_name: z.string().min(1),
        sentinel_username: z.string().optional(),
        sentinel_password: z.string().optional(),
        nodes: z.array(redisNode).default([]),
        /** Authelia's routing of reads to replicas: Gatehouse reads only from the master (a warning when true). */
        route_by_latency: z.boolean().default(false),
        route_randomly: z.boolean().default(false),
      })
      .optional(),
  })
  // Authelia's defaults: a Sentinel listens on 26379, and port 0 there means that default, not a socket
  .transform((redis) => ({
    ...redis,
    port: redis.high_availability ? redis.port || 26379 : (redis.port ?? 6379),
  }));

const session = z.strictObject({
  /** Signs the cookie and encrypts the session in Redis. Required with Redis; generated per run otherwise. */
  secret: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').default('gatehouse_session'),
  same_site: z.enum(['lax', 'strict', 'none']).default('lax'),
  expiration: duration('1h'),
  inactivity: duration('5m'),
  remember_me: duration('1M'),
  cookies: z.array(cookie).default([]),
  redis: redis.optional(),
});

const argon2 = z.strictObject({
  /** Authelia also writes argon2i and argon2d; Gatehouse writes argon2id whatever this says (a warning says so). */
  variant: z.enum(['argon2id', 'argon2i', 'argon2d']).default('argon2id'),
  iterations: z.number().int().min(1).max(100).default(3),
  memory: z.number().int().min(1024).max(4_194_304).default(65536),
  parallelism: z.number().int().min(1).max(64).default(4),
  key_length: z.number().int().min(16).max(128).default(32),
  salt_length: z.number().int().min(8).max(64).default(16),
});

const fileBackend = z.strictObject({
  path: z.string().min(1),
  /** Reload the file when it changes. Authelia's default is false; ours is on because operators expect edits to apply. */
  watch: z.boolean().default(true),
  search: z
    .strictObject({ email: z.boolean().default(false), case_insensitive: z.boolean().default(false) })
    .prefault({}),
  /** The `extra:` attributes users may have, each with its type; users' values are checked when the file loads (users/extra-attributes.ts). */
  extra_attributes: z
    .record(z.string().min(1), z.strictObject({ multi_valued: z.boolean().default(false), value_type: z.enum(EXTRA_VALUE_TYPES) }))
    .default({}),
  password: z
    .strictObject({
      /** What Authelia would write; Gatehouse writes argon2id with the argon2 settings (a warning says so when this is another). */
      algorithm: z.enum(PASSWORD_ALGORITHMS).default('argon2'),
      argon2: argon2.prefault({}),
      /**
       * Replace a user's bcrypt, pbkdf2 or weaker argon2 hash with one made with the settings above at
       * their next successful login (an atomic write of the users file). Turn off when another tool
       * manages the users file.
       */
      rehash_on_login: z.boolean().default(true),
      // Authelia's settings for writing the other algorithms: accepted, and warned about (Gatehouse writes argon2id)
      scrypt: z.unknown().optional(),
      pbkdf2: z.unknown().optional(),
      sha2crypt: z.unknown().optional(),
      bcrypt: z.unknown().optional(),
    })
    .prefault({})
    // the users file is written with argon2id whatever Authelia's `algorithm` says; what was asked is kept
    // (only when it is not argon2) for the warning that says so
    .transform(({ algorithm, ...password }) => ({
      ...password,
      algorithm: 'argon2' as const,
      ...(algorithm === 'argon2' ? {} : { authelia_algorithm: algorithm }),
    })),
});

const authenticationBackend = z.strictObject({
  password_reset: z
    .strictObject({
      disable: z.boolean().default(false),
      /** Users reset their password elsewhere: the portal's link goes there and its own reset is off (Authelia's reading). */
      custom_url: z.string().optional(),
    })
    .prefault({}),
  /** Turns off the portal's change-password page and API (403). */
  password_change: z.strictObject({ disable: z.boolean().default(false) }).prefault({}),
  password_checks: passwordChecksField(),
  /** How long user details are cached: a duration, `always` (no cache) or `disable` (kept until a reload; `never` too). */
  refresh_interval: z.union([z.literal('always'), z.literal('disable'), z.literal('never'), duration()]).prefault('5m'),
  file: fileBackend.optional(),
  ldap: ldapBackend.optional(),
});

const regulation = z.strictObject({
  modes: z.array(z.enum(['user', 'ip'])).min(1).default(['user']),
  max_retries: z.number().int().min(0).default(3),
  find_time: duration('2m'),
  ban_time: duration('5m'),
});

/** The options PostgreSQL and MySQL share (Authelia's keys), the server's usual port on this machine by default. */
function sqlDatabase(defaultAddress: string) {
  return {
    address: z.string().default(defaultAddress),
    database: z.string().min(1),
    username: z.string().min(1),
    password: z.string().default(''),
    /** Connecting (Authelia's key). */
    timeout: duration('5s'),
    /** Each query, in ms: a hung database fails the request with 503 after this long. */
    statement_timeout: timeoutMs('5s'),
    /** An unused pooled connection is closed after this long, in ms. */
    idle_timeout: timeoutMs('30s'),
    tls: tlsClient.optional(),
  };
}

const storage = z.strictObject({
  encryption_key: z.string().optional(),
  local: z.strictObject({ path: z.string().min(1) }).optional(),
  postgres: z
    .strictObject({
      ...sqlDatabase('tcp://127.0.0.1:5432'),
      schema: z.string().default('public'),
      /** Authelia 4.39's fallback servers, tried in order after `address` when it cannot be reached; each with its own `tls` (none: no TLS). */
      servers: z.array(z.strictObject({ address: z.string().min(1), tls: tlsClient.optional() })).default([]),
    })
    .optional(),
  /** MySQL or MariaDB (Authelia's keys). */
  mysql: z.strictObject(sqlDatabase('tcp://127.0.0.1:3306')).optional(),
});

const smtp = z.strictObject({
  address: z.string().default('smtp://localhost:25'),
  timeout: duration('5s'),
  username: z.string().optional(),
  password: z.string().optional(),
  sender: z.string().min(1),
  identifier: z.string().default('localhost'),
  subject: z.string().default('[Gatehouse] {title}'),
  startup_check_address: z.string().default('test@authelia.com'),
  disable_require_tls: z.boolean().default(false),
  disable_starttls: z.boolean().default(false),
  disable_html_emails: z.boolean().default(false),
  tls: tlsClient.optional(),
});

const notifier = z.strictObject({
  disable_startup_check: z.boolean().default(false),
  /** Authelia's e-mail template overrides: no effect (NO_EFFECT in validate/not-yet-supported.ts warns); Gatehouse's templates are its own. */
  template_path: z.string().optional(),
  filesystem: z.strictObject({ filename: z.string().min(1) }).optional(),
  smtp: smtp.optional(),
});

/** Authelia's server.endpoints: the authz endpoints and where each looks for an identity are implemented. */
const authzEndpoint = z.strictObject({
  implementation: z.enum(['ForwardAuth', 'AuthRequest', 'Legacy', 'ExtAuthz']),
  authn_strategies: z
    .array(
      z.strictObject({
        name: z.enum(AUTHN_STRATEGY_NAMES),
        schemes: z.array(z.enum(['Basic', 'Bearer'])).optional(),
        scheme_basic_cache_lifespan: duration().optional(),
      }),
    )
    .optional(),
});

const endpoints = z.strictObject({
  authz: z.record(z.string(), authzEndpoint).optional(),
  /** Narrows access (fewer requests per client): refused until implemented, never ignored. */
  rate_limits: notYetSupported,
  enable_pprof: notYetSupported,
  enable_expvars: notYetSupported,
});

const server = z.strictObject({
  address: z.string().default('tcp://127.0.0.1:9091'),
  /** An empty block (`key: ''`, `certificate: ''`, as Authelia's template writes it) is no TLS. */
  tls: z
    .strictObject({ certificate: z.string().default(''), key: z.string().default(''), client_certificates: z.array(z.string()).optional() })
    .optional()
    .transform((tls, ctx) => {
      if (!tls || (tls.certificate === '' && tls.key === '' && !tls.client_certificates?.length)) return undefined;
      if (tls.certificate === '' || tls.key === '') {
        ctx.addIssue({ code: 'custom', message: "set both 'certificate' and 'key' (or leave both empty for no TLS)" });
        return z.NEVER;
      }
      if (tls.client_certificates?.length) {
        ctx.addIssue({ code: 'custom', message: "'client_certificates' (mutual TLS) is not implemented by Gatehouse; remove it, or leave TLS to the proxy in front" });
        return z.NEVER;
      }
      return { certificate: tls.certificate, key: tls.key };
    }),
  /** Peers whose X-Forwarded-* / X-Original-* headers are believed. Everyone else's are ignored. */
  trusted_proxies: stringList().default(['127.0.0.1/32', '::1/128']),
  /** The embedded reverse proxy: request host (or `default`) → upstream URL. */
  upstreams: z.record(z.string(), z.string()).default({}),
  /** On SIGTERM/SIGINT, how long running requests may finish before the process exits anyway, in ms. */
  shutdown_timeout: timeoutMs('10s'),
  /** Authelia's asset overrides and its container healthcheck file: no effect (NO_EFFECT in validate/not-yet-supported.ts warns). */
  asset_path: z.string().optional(),
  disable_healthcheck: z.boolean().optional(),
  buffers: notYetSupported,
  timeouts: notYetSupported,
  endpoints: endpoints.optional(),
  headers: notYetSupported,
});

/** The signed identity assertion sent beside Remote-User (see gateway/authz/assertion.ts). */
const identityAssertion = z.strictObject({
  /**
   * Which apps get an assertion, each with the `aud` it checks: target host → audience. No other app
   * receives one, so an app behind the gateway cannot replay its users' assertions at the monitor.
   */
  audiences: z.record(z.string(), z.string().min(1)),
  lifespan: duration('60s'),
  /** ES256 private key (PEM); created with mode 0600 on first start if missing. */
  key_path: z.string().min(1),
});

/** Prometheus metrics on a listener of their own (Authelia's keys and port). */
const telemetry = z.strictObject({
  metrics: z
    .strictObject({
      enabled: z.boolean().default(false),
      address: z.string().default('tcp://127.0.0.1:9959'),
      buffers: notYetSupported,
      timeouts: notYetSupported,
    })
    .prefault({}),
});

const log = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  format: z.enum(['json', 'text']).default('json'),
  file_path: z.string().optional(),
  keep_stdout: z.boolean().default(false),
});

export const gatewayConfigSchema = z.strictObject({
  /** Accepted so an Authelia file loads; the portal has one theme that follows the browser's preference (other than 'auto' warns). */
  theme: z.string().optional(),
  /** PEM CA certificates (`*.pem`, `*.crt`, `*.cer`) every outgoing TLS connection trusts besides Node's default CAs (lib/net/trusted-cas.ts). */
  certificates_directory: z.string().min(1).optional(),
  server: server.prefault({}),
  log: log.prefault({}),
  authentication_backend: authenticationBackend.prefault({}),
  access_control: accessControl.prefault({}),
  session: session.prefault({}),
  regulation: regulation.prefault({}),
  storage: storage.prefault({}),
  notifier: notifier.optional(),
  identity_assertion: identityAssertion.optional(),
  totp: totp.prefault({}),
  webauthn: webauthn.prefault({}),
  duo_api: notYetSupported,
  identity_validation: identityValidation.prefault({}),
  identity_providers: identityProviders.optional(),
  default_2fa_method: defaultSecondFactorMethod,
  ntp: notYetSupported,
  password_policy: passwordPolicyField(),
  telemetry: telemetry.prefault({}),
  definitions: definitions.optional(),
  privacy_policy: notYetSupported,
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type SessionConfig = GatewayConfig['session'];
export type CookieConfig = SessionConfig['cookies'][number];
export type RedisConfig = NonNullable<SessionConfig['redis']>;
export type AccessControlConfig = GatewayConfig['access_control'];
export type Policy = z.output<typeof policy>;


/** The JSON Schema editors use to check a config file (written to config/gatehouse.schema.json). */
export function gatewayJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(gatewayConfigSchema, {
    io: 'input',
    unrepresentable: 'any',
    // the legacy marker is the deprecation table's, not an option (see `cookie`)
    override: (ctx) => {
      if (ctx.zodSchema === cookie) delete (ctx.jsonSchema.properties as Record<string, unknown> | undefined)?.legacy;
    },
  }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://gatehouse.invalid/schemas/gateway.json',
    title: 'Gatehouse gateway configuration',
  };
}
