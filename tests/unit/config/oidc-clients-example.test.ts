/**
 * config/oidc-clients.example.yml, the client definitions the README's "OpenID Connect: signing in to
 * apps" recipes copy: merged over config/gateway.yml it validates without warnings, and each app's
 * client says what that app sends (its redirect URI, port included, and how it presents its secret).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecret } from '../../../lib/secret-strength.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeConfigDir, type ConfigDir } from './config-files.ts';

const FILES = [repoPath('config', 'gateway.yml'), repoPath('config', 'oidc-clients.example.yml')];

describe('config/oidc-clients.example.yml', () => {
  let t: ConfigDir;
  let secrets: NodeJS.ProcessEnv;
  before(async () => {
    t = await makeConfigDir();
    secrets = {
      GATEHOUSE_SESSION_SECRET_FILE: await t.write('session_secret', `${generateSecret()}\n`),
      GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE: await t.write('encryption_key', `${generateSecret()}\n`),
    };
  });
  after(() => t?.cleanup());

  it('validates over config/gateway.yml without warnings, with no jwks or hmac_secret (SQLite makes and derives them)', () => {
    const { config, warnings } = t.load(FILES, secrets);
    assert.deepEqual(warnings, []);
    const oidc = config.identity_providers?.oidc;
    assert.ok(oidc);
    assert.deepEqual(oidc.jwks, []);
    assert.equal(oidc.hmac_secret, undefined);
    assert.deepEqual(oidc.clients.map((c) => c.client_id), ['proxmox', 'nextcloud', 'gitea', 'portainer', 'grafana']);
  });

  it('gives each app the redirect URI and the client authentication it uses', () => {
    const clients = new Map((t.load(FILES, secrets).config.identity_providers?.oidc?.clients ?? []).map((c) => [c.client_id, c]));
    const expected: Record<string, [string, string]> = {
      proxmox: ['https://pve.example.com:8006', 'client_secret_basic'],
      nextcloud: ['https://nextcloud.example.com/apps/user_oidc/code', 'client_secret_post'],
      gitea: ['https://gitea.example.com/user/oauth2/gatehouse/callback', 'client_secret_basic'],
      portainer: ['https://portainer.example.com', 'client_secret_post'],
      grafana: ['https://grafana.example.com/login/generic_oauth', 'client_secret_basic'],
    };
    for (const [id, [redirect, method]] of Object.entries(expected)) {
      const client = clients.get(id)!;
      assert.deepEqual(client.redirect_uris, [redirect], id);
      assert.equal(client.token_endpoint_auth_method, method, id);
      assert.match(client.client_secret ?? '', /^\$pbkdf2-sha512\$310000\$/, `${id}: a digest, never the secret`);
      assert.ok(client.scopes.includes('openid') && client.scopes.includes('groups'), id);
    }
  });
});
