/** `gatehouse config validate` with Authelia's template filter: a configuration using {{ env }} and {{ secret }} loads. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../gateway/config/load.ts';
import { runGatehouse } from '../helpers/cli.ts';
import { makeTempDir } from '../helpers/tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let keyFile: string;
let placeholderFile: string;

function config(keyPath: string): string {
  return `# a configuration as Authelia's template filter reads it
authentication_backend:
  file:
    path: '{{ mustEnv "USERS_DIR" }}/users.yml'
access_control:
  default_policy: deny
  rules:
    - domain: '*.{{ env "ROOT_DOMAIN" }}'
      policy: one_factor
session:
  cookies:
    - domain: '{{ env "ROOT_DOMAIN" }}'
      authelia_url: 'https://auth.{{ env "ROOT_DOMAIN" }}'
      {{- /* the lifetime has a default */}}
      expiration: '{{ env "SESSION_EXPIRATION" | default "1h" }}'
storage:
  encryption_key: '{{ secret "${keyPath}" }}'
  local:
    path: '{{ mustEnv "USERS_DIR" }}/gatehouse.sqlite3'
`;
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-template-cli-'));
  keyFile = join(dir, 'encryption_key');
  placeholderFile = join(dir, 'placeholder_key');
  await writeFile(keyFile, 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE\n');
  await writeFile(placeholderFile, 'a_very_important_secret_changeme\n');
  configFile = join(dir, 'configuration.yml');
  await writeFile(configFile, config(keyFile));
});
after(() => cleanup());

const base = (): NodeJS.ProcessEnv => ({ GATEHOUSE_DATA: join(dir, 'data'), USERS_DIR: dir, ROOT_DOMAIN: 'example.com' });

describe('gatehouse config validate with the template filter', () => {
  it('loads a configuration using env, mustEnv, default and secret with X_AUTHELIA_CONFIG_FILTERS=template', async () => {
    const r = await runGatehouse(['config', 'validate', '--config', configFile], { ...base(), X_AUTHELIA_CONFIG_FILTERS: 'template' });
    assert.deepEqual(r, { code: 0, out: 'config: OK\n', err: '' });
  });

  it('does the same with GATEHOUSE_CONFIG_FILTERS, which is not taken for an unknown setting', async () => {
    const r = await runGatehouse(['config', 'validate', '--config', configFile], { ...base(), GATEHOUSE_CONFIG_FILTERS: 'template' });
    assert.deepEqual(r, { code: 0, out: 'config: OK\n', err: '' });
  });

  it('without the filter the actions stay text, and the file is not YAML (the {{- comment line)', async () => {
    const r = await runGatehouse(['config', 'validate', '--config', configFile], base());
    assert.equal(r.code, 2);
    assert.match(r.err, /^config: .*configuration\.yml: line 14, column \d+: /m);
  });

  it('the secret file’s content is what is checked: a placeholder there is refused', async () => {
    const file = join(dir, 'placeholder.yml');
    await writeFile(file, config(placeholderFile));
    const r = await runGatehouse(['config', 'validate', '--config', file], { ...base(), X_AUTHELIA_CONFIG_FILTERS: 'template' });
    assert.equal(r.code, 2);
    assert.match(r.err, /^config: storage\.encryption_key: is a placeholder/m);
  });

  it('an unset mustEnv variable is an error naming the file and line', async () => {
    const env = base();
    delete env.USERS_DIR;
    const r = await runGatehouse(['config', 'validate', '--config', configFile], { ...env, X_AUTHELIA_CONFIG_FILTERS: 'template' });
    assert.equal(r.code, 2);
    assert.equal(r.err, `config: ${configFile}: line 4: template: mustEnv: the environment variable 'USERS_DIR' isn't set\n`);
  });

  it('the secret file is a credential file (its permissions are checked); the configuration that only names it is not', async () => {
    const env = { ...base(), X_AUTHELIA_CONFIG_FILTERS: 'template' };
    const loaded = loadGatewayConfig({ files: [configFile], env });
    assert.equal(loaded.config.storage.encryption_key, 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE');
    assert.deepEqual(loaded.credentialFiles, [keyFile]);
    // a secret written in the file itself still makes it one
    const literal = join(dir, 'literal.yml');
    await writeFile(literal, config(keyFile).replace(`{{ secret "${keyFile}" }}`, 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE'));
    assert.deepEqual(loadGatewayConfig({ files: [literal], env }).credentialFiles, [literal]);
  });
});
