/**
 * The CEL evaluator promises a bound: no string or list past MAX_SIZE. `replace` and `join` built their
 * whole result first and checked its size after: a string of 20,000 characters with every gap replaced
 * by another 20,000 (`s.replace('', s)`, a few hundred steps) allocated 400 million characters (half a
 * gigabyte) before being refused, and past V8's longest string a RangeError escaped the evaluator,
 * which is not the "no value" its callers expect: the user's claims request failed with an internal error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CelEvalError, evaluateCel, MAX_SIZE } from '../../gateway/expression/cel-eval.ts';
import { parseCel } from '../../gateway/expression/cel-parse.ts';
import { createUserAttributeResolver } from '../../gateway/expression/user-attributes.ts';
import type { UserDetails } from '../../gateway/users/provider.ts';

const PAST_V8 = 'a'.repeat(24_000); // 24,000 × 24,000 characters: more than V8's longest string
const HALF_GIGABYTE = 'a'.repeat(20_000);

function refusedAsTooBig(source: string, input: Record<string, string>): void {
  assert.throws(() => evaluateCel(parseCel(source), input), (error: unknown) => {
    assert.ok(error instanceof CelEvalError, `expected CelEvalError, got ${(error as Error).constructor.name}: ${(error as Error).message}`);
    assert.match(error.message, new RegExp(`past ${MAX_SIZE}`));
    return true;
  });
}

describe('expression: replace and join refuse a result past MAX_SIZE before building it', () => {
  it("s.replace('', s) past V8's longest string is an evaluation error, not a RangeError", () => {
    refusedAsTooBig("s.replace('', s)", { s: PAST_V8 });
  });

  it("s.split('').join(s) past V8's longest string is an evaluation error, not a RangeError", () => {
    refusedAsTooBig("s.split('').join(s)", { s: PAST_V8 });
  });

  it('a refused replace allocates nothing near its would-be size', () => {
    const before = process.memoryUsage().rss;
    for (const source of ["s.replace('', s)", "s.split('').join(s)"]) refusedAsTooBig(source, { s: HALF_GIGABYTE });
    const grew = process.memoryUsage().rss - before;
    assert.ok(grew < 200 * 1024 * 1024, `the process grew by ${Math.round(grew / 1024 / 1024)} MB`);
  });

  it('a user attribute with such an expression has no value for the user (the resolver does not throw)', () => {
    const resolver = createUserAttributeResolver({ echoed: { expression: "display_name.replace('', display_name)" } });
    const user: UserDetails = { username: 'alice', displayName: PAST_V8, emails: ['alice@example.com'], groups: [], credentialStamp: 's1' };
    assert.equal(resolver.resolve('echoed', user), undefined);
  });

  it('replace and join within the bound still work', () => {
    assert.equal(evaluateCel(parseCel("'a-b-c'.replace('-', '+')"), {}), 'a+b+c');
    assert.equal(evaluateCel(parseCel("['a', 'b'].join(', ')"), {}), 'a, b');
  });
});
