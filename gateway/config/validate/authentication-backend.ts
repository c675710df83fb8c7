/** `authentication_backend`: one source of users (the users file, and how its passwords are hashed, or LDAP: validate/ldap.ts). */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { isReservedAttribute } from '../../expression/user-attributes.ts';
import { PASSWORD_ALGORITHMS, type GatewayConfig } from '../schema.ts';
import { ldapProblems } from './ldap.ts';

const PASSWORD = 'authentication_backend.file.password';
const WRITES = 'Gatehouse writes argon2id (with the argon2 settings)';

type PasswordConfig = NonNullable<GatewayConfig['authentication_backend']['file']>['password'];

/**
 * Authelia may write sha2crypt, pbkdf2, bcrypt, scrypt, argon2i or argon2d hashes; Gatehouse writes only
 * argon2id. Each such setting loads and is named in a warning, so no one believes a new hash follows it;
 * the hashes it made are still verified (and re-hashed as argon2id at the next login with rehash_on_login).
 */
function otherAlgorithmProblems(password: PasswordConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (password.authelia_algorithm) {
    found.push(configWarning(`${PASSWORD}.algorithm`, `is '${password.authelia_algorithm}', but ${WRITES}; this setting only applies to Authelia: ${password.authelia_algorithm} hashes already in the users file are still verified`));
  }
  for (const algorithm of PASSWORD_ALGORITHMS) {
    if (algorithm !== 'argon2' && password[algorithm] !== undefined) {
      found.push(configWarning(`${PASSWORD}.${algorithm}`, `${WRITES}; this setting only applies to Authelia writing ${algorithm} hashes, and is ignored`));
    }
  }
  if (password.argon2.variant !== 'argon2id') {
    found.push(configWarning(`${PASSWORD}.argon2.variant`, `is '${password.argon2.variant}', but ${WRITES}; this setting only applies to Authelia: ${password.argon2.variant} hashes are still verified`));
  }
  return found;
}

/** password_reset.custom_url: an absolute http(s) URL (Authelia refuses any other scheme). */
function customResetUrlProblems(customUrl: string | undefined): ConfigProblem[] {
  if (customUrl === undefined) return [];
  const where = 'authentication_backend.password_reset.custom_url';
  const url = URL.parse(customUrl);
  if (url === null) return [configError(where, `'${shownValue(customUrl)}' is not an absolute URL (like https://accounts.example.com/reset)`)];
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [configError(where, `'${shownValue(customUrl)}' must be an http or https URL`)];
  if (url.username || url.password) return [configError(where, 'must not carry credentials (the value is not repeated)')];
  return [];
}

export function authenticationBackendProblems(backend: GatewayConfig['authentication_backend']): ConfigProblem[] {
  const urlProblems = customResetUrlProblems(backend.password_reset.custom_url);
  if (backend.file && backend.ldap) {
    // Authelia's rule: one source of users, never two that could disagree about a name
    return [...urlProblems, configError('authentication_backend', "has both 'file' and 'ldap': configure only one of them")];
  }
  if (!backend.file && !backend.ldap) {
    return [...urlProblems, configError('authentication_backend.file', 'is required: set authentication_backend.file.path to a users file (created if missing)')];
  }
  return [...urlProblems, ...fileBackendProblems(backend), ...ldapProblems(backend)];
}

function fileBackendProblems(backend: GatewayConfig['authentication_backend']): ConfigProblem[] {
  const file = backend.file;
  if (!file) return [];
  const found: ConfigProblem[] = [...otherAlgorithmProblems(file.password)];
  for (const name of Object.keys(file.extra_attributes)) {
    if (isReservedAttribute(name)) {
      found.push(configError(`authentication_backend.file.extra_attributes.${name}`, `is the name of a user attribute Gatehouse and Authelia already have; give the extra attribute another name`));
    }
  }
  const a = file.password.argon2;
  if (a.memory < 65536 || a.iterations < 3) {
    found.push(configWarning(
      'authentication_backend.file.password.argon2',
      `is weaker than the default (memory ${a.memory} KiB, iterations ${a.iterations}; default 65536 KiB, 3)`,
    ));
  }
  if (!file.watch) {
    found.push(configWarning(
      'authentication_backend.file.watch',
      'is false: edits to the users file apply only after a restart or SIGHUP; until then disabled and deleted users keep their access',
    ));
  }
  // refresh_interval: no warning, whatever it says: with the users file, a reload (the watcher,
  // SIGHUP) drops the cached details at once, so changes to the file apply as soon as they are loaded
  return found;
}
