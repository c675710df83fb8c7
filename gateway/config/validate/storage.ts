/** `storage`: the encryption key and exactly one database. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { GENERATE_SECRET } from '../../../lib/secret-strength.ts';
import { assertEncryptionKeyLength } from '../../storage/encryption.ts';
import { parseMysqlAddress, parsePostgresAddress } from '../../storage/options.ts';
import type { GatewayConfig } from '../schema.ts';
import { ownSecretProblem } from './own-secrets.ts';
import { tlsClientProblems } from './tls-client.ts';

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
  if (storage.postgres) found.push(...postgresProblems(storage.postgres));
  if (storage.mysql) {
    try {
      const endpoint = parseMysqlAddress(storage.mysql.address);
      if (storage.mysql.tls && endpoint.socketPath !== undefined) found.push(socketTls('storage.mysql'));
    } catch {
      found.push(configError('storage.mysql.address', "must look like 'tcp://host:3306' or 'unix:///run/mysqld/mysqld.sock'"));
    }
    found.push(...tlsClientProblems('storage.mysql.tls', storage.mysql.tls, 'the MySQL server'));
  }
  return found;
}

function postgresProblems(postgres: NonNullable<GatewayConfig['storage']['postgres']>): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const servers = [{ at: 'storage.postgres', address: postgres.address, tls: postgres.tls }, ...postgres.servers.map((server, i) => ({ at: `storage.postgres.servers[${i}]`, ...server }))];
  for (const server of servers) {
    // the reading the connection uses, so a start never fails on an address validation passed
    try {
      if (parsePostgresAddress(server.address).socket && server.tls) found.push(socketTls(server.at));
    } catch {
      // the value is not repeated: a mistyped address may carry credentials
      found.push(configError(`${server.at}.address`, "must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'"));
    }
    found.push(...tlsClientProblems(`${server.at}.tls`, server.tls, 'the PostgreSQL server'));
    // Authelia's fallback servers do not inherit the main tls block: one without its own is spoken to in clear text
    if (server.at !== 'storage.postgres' && postgres.tls && !server.tls) {
      found.push(configWarning(`${server.at}.tls`, 'is not set while storage.postgres.tls is: this fallback server is connected to without TLS (each server has its own tls block, as in Authelia)'));
    }
  }
  return found;
}

/** TLS does not apply to a unix socket (the server is on this machine); the drivers connect without it, as Authelia's do. */
function socketTls(at: string): ConfigProblem {
  return configWarning(`${at}.tls`, 'is ignored: the address is a unix socket, which is not encrypted with TLS (it does not leave this machine)');
}
