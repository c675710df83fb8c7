/** `storage`: the encryption key and exactly one database. */
import { configError, type ConfigProblem } from '../../../lib/config-problems.ts';
import { GENERATE_SECRET } from '../../../lib/secret-strength.ts';
import { assertEncryptionKeyLength } from '../../storage/encryption.ts';
import { parseMysqlAddress, parsePostgresAddress } from '../../storage/options.ts';
import type { GatewayConfig } from '../schema.ts';
import { ownSecretProblem } from './own-secrets.ts';

export function storageProblems(storage: GatewayConfig['storage']): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (!storage.encryption_key) {
    found.push(configError('storage.encryption_key', `is required: a random string of at least 20 characters that encrypts secrets at rest; generate one with: ${GENERATE_SECRET}`));
  } else {
    const keyProblem = ownSecretProblem('storage.encryption_key', storage.encryption_key);
    if (keyProblem !== null) found.push(keyProblem);
    else {
      // openStorage counts characters, not UTF-16 units: a key of 10 emoji passes the check above, not that one
      try {
        assertEncryptionKeyLength(storage.encryption_key);
      } catch {
        found.push(configError('storage.encryption_key', `must be at least 20 characters (counted as characters, not UTF-16 units); generate one with: ${GENERATE_SECRET}`));
      }
    }
  }
  const chosen = (['local', 'postgres', 'mysql'] as const).filter((name) => storage[name] !== undefined);
  if (chosen.length > 1) found.push(configError('storage', `set one of 'local', 'postgres' and 'mysql', not ${chosen.map((name) => `'${name}'`).join(' and ')}`));
  if (chosen.length === 0) found.push(configError('storage', 'is required: set storage.local.path (SQLite), storage.postgres or storage.mysql'));
  if (storage.postgres?.tls) {
    found.push(configError('storage.postgres.tls', 'asks for TLS to PostgreSQL, which Gatehouse does not implement yet: connecting without it would send the password and the data in clear text, so it is refused; connect through a unix socket or a trusted network and remove it'));
  }
  if (storage.postgres) {
    // the reading the connection uses, so a start never fails on an address validation passed
    try {
      parsePostgresAddress(storage.postgres.address);
    } catch {
      // the value is not repeated: a mistyped address may carry credentials
      found.push(configError('storage.postgres.address', "must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'"));
    }
  }
  if (storage.mysql) {
    try {
      parseMysqlAddress(storage.mysql.address);
    } catch {
      found.push(configError('storage.mysql.address', "must look like 'tcp://host:3306' or 'unix:///run/mysqld/mysqld.sock'"));
    }
  }
  return found;
}
