/** `authentication_backend`: the users file, and how its passwords are hashed. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';

export function authenticationBackendProblems(backend: GatewayConfig['authentication_backend']): ConfigProblem[] {
  const file = backend.file;
  if (!file) {
    return [configError('authentication_backend.file', 'is required: set authentication_backend.file.path to a users file (created if missing)')];
  }
  const found: ConfigProblem[] = [];
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
