/**
 * A client id is public. Wrong secrets sent for it from many addresses must not lock the real client
 * out of the token endpoint: the limit before hashing is per address, and the client's own address
 * with its right secret still gets through. One address sending wrong secrets is still limited.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { clientSecretChecker, oidcRequest } from '../../gateway/oidc/client-auth.ts';
import { hashClientSecret } from '../../lib/client-secret.ts';

const RIGHT = 'Qm7xT2vLp9RkW4zNc8HbJ3yFd6GsA1eU5oViXnMqZrYtCw0';

describe('client secret checks: limited per address, never per client id', () => {
  it('20 wrong secrets from 20 addresses, then the right one from a clean address: accepted', async () => {
    const stored = await hashClientSecret(RIGHT, { iterations: 1000 });
    const checker = clientSecretChecker({ now: Date.now, logger: pino({ level: 'silent' }) });
    for (let i = 1; i <= 20; i++) {
      assert.equal(await oidcRequest.run({ ip: `192.0.2.${i}` }, () => checker.check('app', stored, `wrong-${i}`)), false);
    }
    assert.equal(await oidcRequest.run({ ip: '198.51.100.7' }, () => checker.check('app', stored, RIGHT)), true);
  });

  it('one address sending wrong secrets is stopped before any digest is computed', async () => {
    const stored = await hashClientSecret(RIGHT, { iterations: 1000 });
    const checker = clientSecretChecker({ now: Date.now, logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 10; i++) await oidcRequest.run({ ip: '203.0.113.9' }, () => checker.check('app', stored, `wrong-${i}`));
    const before = checker.hashed;
    assert.equal(await oidcRequest.run({ ip: '203.0.113.9' }, () => checker.check('app', stored, RIGHT)), false);
    assert.equal(checker.hashed, before, 'no digest computed for a limited address');
  });
});
