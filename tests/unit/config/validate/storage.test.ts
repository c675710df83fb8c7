import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storageProblems } from '../../../../gateway/config/validate/storage.ts';
import { parsed } from './parsed.ts';

const KEY = 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE';
const storage = (raw: Record<string, unknown>) => storageProblems(parsed({ storage: raw }).storage);
const postgres = (address: string) => ({ address, database: 'gatehouse', username: 'gatehouse' });
const mysql = (address: string) => ({ address, database: 'gatehouse', username: 'gatehouse' });

describe('storage validator', () => {
  it('a key and one database have no problem', () => {
    assert.deepEqual(storage({ encryption_key: KEY, local: { path: '/var/lib/gatehouse/db.sqlite3' } }), []);
    for (const address of ['tcp://db:5432', 'tcp6://[::1]:5432', 'unix:///var/run/postgresql']) {
      assert.deepEqual(storage({ encryption_key: KEY, postgres: postgres(address) }), [], address);
    }
  });

  it('MySQL / MariaDB (Authelia\'s storage.mysql) is one database; two databases are one too many', () => {
    for (const address of ['tcp://db:3306', 'tcp6://[::1]:3306', 'unix:///run/mysqld/mysqld.sock']) {
      assert.deepEqual(storage({ encryption_key: KEY, mysql: mysql(address) }), [], address);
    }
    assert.deepEqual(storage({ encryption_key: KEY, local: { path: '/db' }, mysql: mysql('tcp://db:3306') }), [
      { path: 'storage', message: "set one of 'local', 'postgres' and 'mysql', not 'local' and 'mysql'", severity: 'error' },
    ]);
    assert.deepEqual(storage({ encryption_key: KEY, mysql: mysql('mysql://user:pw@db/gatehouse') }), [
      { path: 'storage.mysql.address', message: "must look like 'tcp://host:3306' or 'unix:///run/mysqld/mysqld.sock'", severity: 'error' },
    ]);
  });

  it('no key and no database: both required', () => {
    assert.deepEqual(storage({}).map(({ path, severity }) => ({ path, severity })), [
      { path: 'storage.encryption_key', severity: 'error' },
      { path: 'storage', severity: 'error' },
    ]);
  });

  it('a PostgreSQL address the connection cannot read is found here, not at start; the value is not repeated', () => {
    for (const address of ['db.example.com:5432', 'postgres://user:pw@db/gatehouse', 'unix:///']) {
      assert.deepEqual(storage({ encryption_key: KEY, postgres: postgres(address) }), [
        { path: 'storage.postgres.address', message: "must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'", severity: 'error' },
      ], address);
    }
  });

  it('a key of 20 UTF-16 units but fewer characters is refused here, as the start refuses it', () => {
    const [problem] = storage({ encryption_key: '🐙🍕🚀🎸🌵🦄🍩🧲🛸🎲', local: { path: '/db' } });
    assert.equal(problem?.path, 'storage.encryption_key');
    assert.match(problem?.message ?? '', /^must be at least 20 characters \(counted as characters, not UTF-16 units\)/);
  });

  it('storage.postgres.tls and storage.mysql.tls are accepted (no longer refused); on a unix socket they are warned about, not applied', () => {
    assert.deepEqual(storage({ encryption_key: KEY, postgres: { ...postgres('tcp://db:5432'), tls: { server_name: 'db.internal' } } }), []);
    assert.deepEqual(storage({ encryption_key: KEY, mysql: { ...mysql('tcp://db:3306'), tls: {} } }), []);
    assert.deepEqual(storage({ encryption_key: KEY, postgres: { ...postgres('unix:///var/run/postgresql'), tls: {} } }), [
      { path: 'storage.postgres.tls', message: 'is ignored: the address is a unix socket, which is not encrypted with TLS (it does not leave this machine)', severity: 'warning' },
    ]);
  });

  it('storage.postgres.servers: each address is checked as the main one, each with its own tls block', () => {
    const servers = [{ address: 'tcp://db2:5432', tls: { skip_verify: true } }, { address: 'db3:5432' }];
    assert.deepEqual(storage({ encryption_key: KEY, postgres: { ...postgres('tcp://db:5432'), servers } }), [
      { path: 'storage.postgres.servers[0].tls.skip_verify', message: "is true: the PostgreSQL server's certificate is not checked", severity: 'warning' },
      { path: 'storage.postgres.servers[1].address', message: "must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'", severity: 'error' },
    ]);
  });
});
