import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MINIMUM_PARAMETER_ENTROPY, parameterEntropyChecks } from '../../../gateway/oidc/provider.ts';

class Invalid extends Error {}

describe('minimum_parameter_entropy as the provider applies it', () => {
  it('unset and 0 mean 8 characters; a longer minimum is kept; -1 checks nothing', () => {
    assert.equal(MINIMUM_PARAMETER_ENTROPY, 8);
    for (const configured of [undefined, 0]) {
      const checks = parameterEntropyChecks(configured, Invalid);
      assert.throws(() => checks.state!(null, 'a'.repeat(7)), Invalid);
      assert.doesNotThrow(() => checks.state!(null, 'a'.repeat(8)));
      assert.throws(() => checks.nonce!(null, 'a'.repeat(7)), /nonce parameter has insufficient entropy: at least 8/);
    }
    const longer = parameterEntropyChecks(16, Invalid);
    assert.throws(() => longer.state!(null, 'a'.repeat(15)), /at least 16/);
    assert.deepEqual(parameterEntropyChecks(-1, Invalid), {});
  });

  it('an absent state or nonce is the client\'s choice, not a refusal', () => {
    const checks = parameterEntropyChecks(undefined, Invalid);
    assert.doesNotThrow(() => checks.state!(null, undefined));
    assert.doesNotThrow(() => checks.nonce!(null, undefined));
  });
});
