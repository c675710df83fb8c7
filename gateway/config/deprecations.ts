/**
 * Authelia's deprecated keys (its internal/configuration/deprecation.go as of 4.39, and the legacy
 * shapes its validators still map: `session.domain`, the flat `password:` block, `storage.postgres.ssl`),
 * as one table. Each entry is read from the configuration as written, before the schema sees it: the
 * value moves to the key that replaced it, with a warning that names that key. A deprecated key set
 * beside its replacement (to a different value) is an error, as in Authelia.
 */
import { isDeepStrictEqual } from 'node:util';
import { configError, configWarning, shownValue, type ConfigProblem } from '../../lib/config-problems.ts';
import { deleteAt, expand, getAt, hasAt, isPlain, setAt, type Plain } from '../../lib/config-paths.ts';
import { hostWithinDomain } from './validate/domain-names.ts';

/** The value moves from `old` to `new` (through `map` when the shape changed). `use`: the key the warning names, when `new` is itself deprecated. */
interface Moved {
  kind: 'moved';
  old: string;
  new: string;
  use?: string;
  map?: (value: unknown) => unknown;
}

/**
 * Several keys make one value (host + port → address); `combine` gets them in `old`'s order. `older`:
 * still older places of some of them (top-level `host` for `server.host`), read there when set.
 */
interface Combined {
  kind: 'combined';
  old: readonly string[];
  older?: Readonly<Record<string, string>>;
  new: string;
  combine: (values: readonly unknown[]) => { value: string } | { problem: string };
}

/** Authelia dropped it: no effect, a warning. */
interface Removed {
  kind: 'removed';
  old: string;
}

/** Authelia does not map it either (it refuses it): an error that names the replacement. */
interface Replaced {
  kind: 'replaced';
  old: string;
  new: string;
  why: string;
}

/** A legacy shape that takes more than moving values; `apply` rewrites `raw` and says what it did. `new`: where its values go (`config migrate` follows them there). */
interface Reshaped {
  kind: 'reshaped';
  old: readonly string[];
  new: string;
  apply: (raw: Plain) => ConfigProblem[];
}

export type Deprecation = Moved | Combined | Removed | Replaced | Reshaped;

function deprecatedMessage(use: string): string {
  return `is deprecated; use ${use} instead`;
}

function bothSet(old: string, use: string): string {
  return `is deprecated and ${use} is set too; remove ${old} (${use} replaces it)`;
}

/** A port as Authelia reads it: a number or a numeric string, 1–65535; 0 or missing is the default. */
function portOf(value: unknown, fallback: number): number | null {
  if (value === undefined || value === null || value === 0 || value === '') return fallback;
  const port = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
}

function hostOf(value: unknown, fallback: string): string | null {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string' || /[\s/?#@]/.test(value.replace(/^\[|\]$/g, '')) && !value.startsWith('/')) return null;
  return value.includes(':') && !value.startsWith('[') ? `[${value}]` : value;
}

const BAD_PORT = 'the port must be a number from 1 to 65535';
const BAD_HOST = 'the host must be a host name or an IP address';

/** `tcp://host:port[/path]` from `server.host`, `server.port`, `server.path` (Authelia's defaults: every interface, 9091). */
function serverAddress([host, port, path]: readonly unknown[]): { value: string } | { problem: string } {
  const h = hostOf(host, '');
  const p = portOf(port, 9091);
  if (h === null || h.startsWith('/')) return { problem: BAD_HOST };
  if (p === null) return { problem: BAD_PORT };
  const sub = typeof path === 'string' ? path.split('/').filter((part) => part !== '' && part !== '.').join('/') : '';
  return { value: `tcp://${h}:${p}${sub === '' ? '' : `/${sub}`}` };
}

/** As Authelia's NewSMTPAddress: the scheme follows the port (465 submissions, 587 submission, else smtp). */
function smtpAddress([host, port]: readonly unknown[]): { value: string } | { problem: string } {
  const h = hostOf(host, 'localhost');
  const p = portOf(port, 25);
  if (h === null || h.startsWith('/')) return { problem: BAD_HOST };
  if (p === null) return { problem: BAD_PORT };
  const scheme = p === 465 ? 'submissions' : p === 587 ? 'submission' : 'smtp';
  return { value: `${scheme}://${h}:${p}` };
}

/** A database address: `tcp://host:port`, or `unix://<dir>` when the host is a socket directory. */
function databaseAddress(defaultPort: number) {
  return ([host, port]: readonly unknown[]): { value: string } | { problem: string } => {
    const h = hostOf(host, 'localhost');
    const p = portOf(port, defaultPort);
    if (h === null) return { problem: BAD_HOST };
    if (p === null) return { problem: BAD_PORT };
    return { value: h.startsWith('/') ? `unix://${h}` : `tcp://${h}:${p}` };
  };
}

const PASSWORD = 'authentication_backend.file.password';
const LEGACY_PASSWORD_KEYS = ['iterations', 'memory', 'parallelism', 'key_length', 'salt_length'] as const;

/**
 * The flat password block of Authelia ≤ 4.35: `algorithm: argon2id` (or `sha512`) with `iterations`,
 * `memory` (MiB), `parallelism`, `key_length`, `salt_length` beside it. Mapped as Authelia's
 * validateFileAuthenticationBackendPasswordConfigLegacy does: argon2 takes all five (memory × 1024, in
 * KiB), sha2crypt (sha512) takes iterations and salt_length (at most 16). A value already set in the
 * new block wins, as in Authelia.
 */
function legacyPassword(raw: Plain): ConfigProblem[] {
  const password = getAt(raw, PASSWORD);
  if (!isPlain(password)) return [];
  const found: ConfigProblem[] = [];
  const algorithm = password.algorithm;
  // the flat keys belong to argon2 or sha2crypt, whichever the algorithm names (argon2 when it names none)
  const target = algorithm === 'sha512' || algorithm === 'sha2crypt' ? 'sha2crypt' : [undefined, 'argon2', 'argon2id'].includes(algorithm as string) ? 'argon2' : null;
  if (target !== null && (algorithm === 'argon2id' || algorithm === 'sha512')) {
    password.algorithm = target;
    const block = isPlain(password[target]) ? (password[target] as Plain) : {};
    password[target] = block;
    if (block.variant === undefined) block.variant = algorithm === 'sha512' ? 'sha512' : 'argon2id';
    found.push(configWarning(`${PASSWORD}.algorithm`, `'${algorithm}' ${deprecatedMessage(`algorithm: ${target} with ${target}.variant: ${String(block.variant)}`)}`));
  }
  for (const key of LEGACY_PASSWORD_KEYS) {
    if (!Object.hasOwn(password, key)) continue;
    const value = password[key];
    delete password[key];
    const useTarget = target !== null && (key === 'iterations' || key === 'salt_length' || target === 'argon2') ? target : null;
    if (useTarget === null) {
      found.push(configWarning(`${PASSWORD}.${key}`, `is deprecated and read only with algorithm argon2 (or sha2crypt, for iterations and salt_length); it is ignored`));
      continue;
    }
    const block = isPlain(password[useTarget]) ? (password[useTarget] as Plain) : ((password[useTarget] = {}) as Plain);
    const use = `${PASSWORD}.${useTarget}.${key}`;
    if (block[key] !== undefined) {
      found.push(configWarning(`${PASSWORD}.${key}`, `is deprecated and ${use} is set; the old key is ignored`));
      continue;
    }
    if (key === 'memory' && useTarget === 'argon2' && typeof value === 'number') {
      block.memory = value * 1024;
      found.push(configWarning(`${PASSWORD}.memory`, `${deprecatedMessage(use)} (read as ${value * 1024}: the old key counted MiB, the new one KiB)`));
      continue;
    }
    block[key] = key === 'salt_length' && useTarget === 'sha2crypt' && typeof value === 'number' ? Math.min(value, 16) : value;
    found.push(configWarning(`${PASSWORD}.${key}`, deprecatedMessage(use)));
  }
  return found;
}

/**
 * `session.domain` (Authelia ≤ 4.37): one cookie domain. Becomes the one `session.cookies[]` entry, with
 * the top-level `default_redirection_url` and the session-wide name, same_site, expiration, inactivity
 * and remember_me, as Authelia's validateSession builds it, marked `legacy` (Authelia's Legacy): it needs no
 * authelia_url. Beside `session.cookies` it is an error.
 */
function legacySessionDomain(raw: Plain): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const written = getAt(raw, 'session.cookies');
  // the marker below is this function's alone: written in a file it would waive authelia_url
  if (Array.isArray(written)) {
    written.forEach((cookie, i) => {
      if (!isPlain(cookie) || !Object.hasOwn(cookie, 'legacy')) return;
      delete cookie.legacy;
      found.push(configError(`session.cookies[${i}].legacy`, 'unknown key; check its spelling against config/gatehouse.schema.json'));
    });
  }
  const domainSet = hasAt(raw, 'session.domain');
  const redirectSet = hasAt(raw, 'default_redirection_url');
  const hasCookies = Array.isArray(written) && written.length > 0;
  if (redirectSet && (hasCookies || !domainSet)) {
    delete raw.default_redirection_url;
    found.push(configError('default_redirection_url', `${deprecatedMessage('session.cookies[].default_redirection_url')}: it is read only beside the deprecated session.domain, so set it on the cookie`));
  }
  if (!domainSet) return found;
  if (hasCookies) {
    deleteAt(raw, 'session.domain');
    found.push(configError('session.domain', bothSet('session.domain', 'session.cookies')));
    return found;
  }
  const session = getAt(raw, 'session') as Plain;
  // no authelia_url: as in Authelia, each request names the portal (validate/session.ts, portalDomainOf)
  const cookie: Plain = { domain: session.domain, legacy: true };
  delete session.domain;
  found.push(configWarning('session.domain', deprecatedMessage('session.cookies[].domain')));
  for (const key of ['name', 'same_site', 'expiration', 'inactivity', 'remember_me']) {
    if (session[key] !== undefined) cookie[key] = session[key];
  }
  if (redirectSet && !hasCookies) {
    const redirect = raw.default_redirection_url;
    delete raw.default_redirection_url;
    const host = typeof redirect === 'string' && URL.canParse(redirect) ? new URL(redirect).hostname : null;
    // Authelia's Legacy cookie drops a redirection URL outside the domain with a warning, where a cookie's own is an error
    if (host !== null && typeof cookie.domain === 'string' && !hostWithinDomain(host, cookie.domain)) {
      found.push(configWarning('default_redirection_url', `${deprecatedMessage('session.cookies[].default_redirection_url')}; the host '${host}' is not '${cookie.domain}' or below it, so it is ignored`));
    } else {
      cookie.default_redirection_url = redirect;
      found.push(configWarning('default_redirection_url', deprecatedMessage('session.cookies[].default_redirection_url')));
    }
  }
  session.cookies = [cookie];
  return found;
}

const POSTGRES_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'];

/**
 * `storage.postgres.ssl` (Authelia ≤ 4.35; `sslmode` older still): `mode: disable` is no TLS, which is what
 * leaving `tls` out means; any other mode asks for TLS and becomes a `tls` block (`require` without a
 * root certificate does not check the server's certificate, as libpq). `verify-ca` becomes a full check
 * (the name too), the one a `tls` block can say. The files it names are not read: their replacements
 * are certificates_directory and the tls block's PEM values, and each left behind is said.
 */
function legacyPostgresSsl(raw: Plain): ConfigProblem[] {
  const ssl = getAt(raw, 'storage.postgres.ssl');
  if (ssl === undefined) return [];
  if (hasAt(raw, 'storage.postgres.tls')) return [configError('storage.postgres.ssl', bothSet('storage.postgres.ssl', 'storage.postgres.tls'))];
  const mode = isPlain(ssl) ? (ssl.mode ?? 'disable') : undefined;
  if (typeof mode !== 'string' || !POSTGRES_SSL_MODES.includes(mode)) {
    return [configError('storage.postgres.ssl.mode', `must be one of ${POSTGRES_SSL_MODES.map((m) => `'${m}'`).join(', ')} (and the key is deprecated; use storage.postgres.tls instead)`)];
  }
  deleteAt(raw, 'storage.postgres.ssl');
  if (mode === 'disable') return [configWarning('storage.postgres.ssl', `${deprecatedMessage('storage.postgres.tls')} (mode 'disable': no TLS, as without a tls block)`)];
  const named = (option: string) => isPlain(ssl) && typeof ssl[option] === 'string' && ssl[option] !== '';
  setAt(raw, 'storage.postgres.tls', { skip_verify: mode === 'require' && !named('root_certificate') });
  const check = mode === 'require' && !named('root_certificate') ? 'the certificate is not checked' : "the certificate is checked, with the server's name";
  const found = [configWarning('storage.postgres.ssl', `${deprecatedMessage('storage.postgres.tls')} (mode '${mode}' read as a tls block: ${check})`)];
  if (named('root_certificate')) {
    found.push(configWarning('storage.postgres.ssl.root_certificate', 'is not read: put that CA file in the directory certificates_directory names, which every TLS connection trusts'));
  }
  for (const [option, replacement] of [['certificate', 'certificate_chain'], ['key', 'private_key']] as const) {
    if (named(option)) found.push(configWarning(`storage.postgres.ssl.${option}`, `is not read, and no client certificate is sent: set storage.postgres.tls.${replacement} to the file's PEM text ('{{ fileContent "<path>" }}' with the template filter)`));
  }
  return found;
}

/**
 * `identity_providers.oidc.issuer_private_key` and `issuer_certificate_chain` (Authelia ≤ 4.37): the one
 * signing key, which is now the first entry of `jwks` (Authelia maps them the same way; both set is an error).
 */
function legacyIssuerKey(raw: Plain): ConfigProblem[] {
  const key = getAt(raw, 'identity_providers.oidc.issuer_private_key');
  const chain = getAt(raw, 'identity_providers.oidc.issuer_certificate_chain');
  if (key === undefined && chain === undefined) return [];
  const jwks = getAt(raw, 'identity_providers.oidc.jwks');
  const found: ConfigProblem[] = [];
  for (const [old, value] of [['issuer_private_key', key], ['issuer_certificate_chain', chain]] as const) {
    if (value === undefined) continue;
    deleteAt(raw, `identity_providers.oidc.${old}`);
    if (Array.isArray(jwks) && jwks.length > 0) found.push(configError(`identity_providers.oidc.${old}`, bothSet(`identity_providers.oidc.${old}`, 'identity_providers.oidc.jwks')));
    else found.push(configWarning(`identity_providers.oidc.${old}`, deprecatedMessage(`identity_providers.oidc.jwks[0].${old === 'issuer_private_key' ? 'key' : 'certificate_chain'}`)));
  }
  if (found.some((problem) => problem.severity === 'error')) return found;
  if (typeof key === 'string') setAt(raw, 'identity_providers.oidc.jwks', [{ key, ...(typeof chain === 'string' ? { certificate_chain: chain } : {}) }]);
  return found;
}

/** In the order they apply: a key moved by an earlier row is read at its new place by a later one. */
export const DEPRECATIONS: readonly Deprecation[] = [
  // 4.7 and 4.30: the top-level log and server keys
  { kind: 'moved', old: 'logs_level', new: 'log.level' },
  { kind: 'moved', old: 'logs_file', new: 'log.file_path' },
  { kind: 'moved', old: 'log_level', new: 'log.level' },
  { kind: 'moved', old: 'log_file_path', new: 'log.file_path' },
  { kind: 'moved', old: 'log_format', new: 'log.format' },
  { kind: 'moved', old: 'tls_key', new: 'server.tls.key' },
  { kind: 'moved', old: 'tls_cert', new: 'server.tls.certificate' },
  // 4.25: TLS options grouped
  { kind: 'moved', old: 'authentication_backend.ldap.skip_verify', new: 'authentication_backend.ldap.tls.skip_verify' },
  { kind: 'moved', old: 'authentication_backend.ldap.minimum_tls_version', new: 'authentication_backend.ldap.tls.minimum_version' },
  { kind: 'moved', old: 'notifier.smtp.disable_verify_cert', new: 'notifier.smtp.tls.skip_verify' },
  {
    kind: 'replaced', old: 'notifier.smtp.trusted_cert', new: 'certificates_directory',
    why: 'Authelia 4.25 replaced it and no longer reads it either; put the CA file in the directory certificates_directory names',
  },
  // 4.36
  { kind: 'moved', old: 'storage.postgres.sslmode', new: 'storage.postgres.ssl.mode', use: 'storage.postgres.tls' },
  { kind: 'moved', old: 'authentication_backend.disable_reset_password', new: 'authentication_backend.password_reset.disable' },
  { kind: 'moved', old: 'server.read_buffer_size', new: 'server.buffers.read' },
  { kind: 'moved', old: 'server.write_buffer_size', new: 'server.buffers.write' },
  // 4.38
  { kind: 'moved', old: 'session.remember_me_duration', new: 'session.remember_me' },
  { kind: 'moved', old: 'server.enable_pprof', new: 'server.endpoints.enable_pprof' },
  { kind: 'moved', old: 'server.enable_expvars', new: 'server.endpoints.enable_expvars' },
  { kind: 'moved', old: 'jwt_secret', new: 'identity_validation.reset_password.jwt_secret' },
  { kind: 'moved', old: 'identity_providers.oidc.clients[].id', new: 'identity_providers.oidc.clients[].client_id' },
  { kind: 'moved', old: 'identity_providers.oidc.clients[].secret', new: 'identity_providers.oidc.clients[].client_secret' },
  { kind: 'moved', old: 'identity_providers.oidc.clients[].description', new: 'identity_providers.oidc.clients[].client_name' },
  { kind: 'moved', old: 'identity_providers.oidc.clients[].sector_identifier', new: 'identity_providers.oidc.clients[].sector_identifier_uri' },
  { kind: 'moved', old: 'identity_providers.oidc.clients[].userinfo_signing_algorithm', new: 'identity_providers.oidc.clients[].userinfo_signed_response_alg' },
  { kind: 'moved', old: 'identity_providers.oidc.access_token_lifespan', new: 'identity_providers.oidc.lifespans.access_token' },
  { kind: 'moved', old: 'identity_providers.oidc.authorize_code_lifespan', new: 'identity_providers.oidc.lifespans.authorize_code' },
  { kind: 'moved', old: 'identity_providers.oidc.id_token_lifespan', new: 'identity_providers.oidc.lifespans.id_token' },
  { kind: 'moved', old: 'identity_providers.oidc.refresh_token_lifespan', new: 'identity_providers.oidc.lifespans.refresh_token' },
  { kind: 'moved', old: 'authentication_backend.ldap.url', new: 'authentication_backend.ldap.address' },
  { kind: 'moved', old: 'authentication_backend.ldap.username_attribute', new: 'authentication_backend.ldap.attributes.username' },
  { kind: 'moved', old: 'authentication_backend.ldap.mail_attribute', new: 'authentication_backend.ldap.attributes.mail' },
  { kind: 'moved', old: 'authentication_backend.ldap.display_name_attribute', new: 'authentication_backend.ldap.attributes.display_name' },
  { kind: 'moved', old: 'authentication_backend.ldap.group_name_attribute', new: 'authentication_backend.ldap.attributes.group_name' },
  { kind: 'combined', old: ['notifier.smtp.host', 'notifier.smtp.port'], new: 'notifier.smtp.address', combine: smtpAddress },
  { kind: 'combined', old: ['storage.postgres.host', 'storage.postgres.port'], new: 'storage.postgres.address', combine: databaseAddress(5432) },
  { kind: 'combined', old: ['storage.mysql.host', 'storage.mysql.port'], new: 'storage.mysql.address', combine: databaseAddress(3306) },
  // with the top-level host and port of Authelia before 4.30
  { kind: 'combined', old: ['server.host', 'server.port', 'server.path'], older: { host: 'server.host', port: 'server.port' }, new: 'server.address', combine: serverAddress },
  // 4.39
  { kind: 'moved', old: 'webauthn.user_verification', new: 'webauthn.selection_criteria.user_verification' },
  // 4.39.16
  { kind: 'removed', old: 'authentication_backend.ldap.permit_feature_detection_failure' },
  // legacy shapes Authelia's validators still map
  { kind: 'reshaped', old: ['session.domain', 'default_redirection_url'], new: 'session.cookies', apply: legacySessionDomain },
  { kind: 'reshaped', old: ['storage.postgres.ssl'], new: 'storage.postgres.tls', apply: legacyPostgresSsl },
  { kind: 'reshaped', old: ['identity_providers.oidc.issuer_private_key', 'identity_providers.oidc.issuer_certificate_chain'], new: 'identity_providers.oidc.jwks', apply: legacyIssuerKey },
  // into the argon2 or the sha2crypt block, whichever the algorithm names
  { kind: 'reshaped', old: [`${PASSWORD}.algorithm`, ...LEGACY_PASSWORD_KEYS.map((k) => `${PASSWORD}.${k}`)], new: PASSWORD, apply: legacyPassword },
];

function applyMoved(raw: Plain, d: Moved): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  for (const place of expand(raw, d.old)) {
    if (!hasAt(place.root, place.inner)) continue;
    // inside a list item, the new key is the part after `[].`
    const target = d.new.includes('[].') ? d.new.slice(d.new.indexOf('[].') + 3) : d.new;
    const old = place.shown(place.inner);
    const use = d.use ?? place.shown(target);
    const value = getAt(place.root, place.inner);
    const mapped = d.map ? d.map(value) : value;
    deleteAt(place.root, place.inner);
    if (hasAt(place.root, target) && !isDeepStrictEqual(getAt(place.root, target), mapped)) {
      found.push(configError(old, bothSet(old, place.shown(target))));
      continue;
    }
    setAt(place.root, target, mapped);
    found.push(configWarning(old, deprecatedMessage(use)));
  }
  return found;
}

function applyCombined(raw: Plain, d: Combined): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  // where each value was written: its own key, or its older place
  const written = new Map<string, string>();
  for (const [older, key] of Object.entries(d.older ?? {})) {
    if (!hasAt(raw, older)) continue;
    if (hasAt(raw, key)) found.push(configError(older, bothSet(older, key)));
    else {
      setAt(raw, key, getAt(raw, older));
      written.set(key, older);
    }
    deleteAt(raw, older);
  }
  const present = d.old.filter((key) => hasAt(raw, key));
  if (present.length === 0) return found;
  const values = d.old.map((key) => getAt(raw, key));
  for (const key of d.old) deleteAt(raw, key);
  const shown = present.map((key) => written.get(key) ?? key);
  if (hasAt(raw, d.new)) return [...found, ...shown.map((key) => configError(key, bothSet(key, d.new)))];
  const result = d.combine(values);
  if ('problem' in result) return [...found, ...shown.map((key) => configError(key, `${deprecatedMessage(d.new)}, and it cannot be mapped: ${result.problem}`))];
  setAt(raw, d.new, result.value);
  return [...found, ...shown.map((key) => configWarning(key, `${deprecatedMessage(d.new)} (read as ${d.new}: '${shownValue(result.value)}')`))];
}

/**
 * The configuration as written, with every deprecated key moved to its replacement, and a problem per
 * key: a warning naming the new key, or an error when it cannot be mapped. `raw` is not changed.
 */
export function migrateDeprecated(input: Record<string, unknown>): { raw: Record<string, unknown>; problems: ConfigProblem[] } {
  const raw = structuredClone(input);
  const problems: ConfigProblem[] = [];
  for (const d of DEPRECATIONS) {
    switch (d.kind) {
      case 'moved':
        problems.push(...applyMoved(raw, d));
        break;
      case 'combined':
        problems.push(...applyCombined(raw, d));
        break;
      case 'removed':
        if (hasAt(raw, d.old)) {
          deleteAt(raw, d.old);
          problems.push(configWarning(d.old, 'is deprecated and has no effect; remove it'));
        }
        break;
      case 'replaced':
        if (hasAt(raw, d.old)) {
          deleteAt(raw, d.old);
          problems.push(configError(d.old, `is no longer read: ${d.new} replaced it (${d.why})`));
        }
        break;
      case 'reshaped':
        problems.push(...d.apply(raw));
        break;
    }
  }
  return { raw, problems };
}
