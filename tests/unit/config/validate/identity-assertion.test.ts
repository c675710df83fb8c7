import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityAssertionProblems } from '../../../../gateway/config/validate/identity-assertion.ts';
import { parsed } from './parsed.ts';

const assertion = (raw: Record<string, unknown>) =>
  identityAssertionProblems(parsed({ identity_assertion: { key_path: '/var/lib/gatehouse/assertion.pem', ...raw } }).identity_assertion);

describe('identity_assertion validator', () => {
  it('absent, or one audience with the default lifespan, has no problem', () => {
    assert.deepEqual(identityAssertionProblems(parsed().identity_assertion), []);
    assert.deepEqual(assertion({ audiences: { 'monitor.example.com': 'monitor' } }), []);
  });

  it('no audience, a key that is no host name and a lifespan out of range are errors at each', () => {
    assert.deepEqual(assertion({ audiences: {}, lifespan: '1h' }).map(({ path }) => path), ['identity_assertion.audiences', 'identity_assertion.lifespan']);
    assert.deepEqual(assertion({ audiences: { 'Monitor.example.com': 'monitor' } }), [
      { path: 'identity_assertion.audiences.Monitor.example.com', message: 'the key must be a lower-case host name', severity: 'error' },
    ]);
  });
});
