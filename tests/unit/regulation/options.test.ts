import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateRegulation } from '../../../gateway/regulation/options.ts';
import type { RegulationMode } from '../../../gateway/regulation/options.ts';
import { normaliseIp } from '../../../lib/net/address.ts';
import { normaliseUsername } from '../../../gateway/regulation/subjects.ts';

describe('regulation options are validated with messages naming the option', () => {
  it("accepts Authelia's defaults and max_retries 0", () => {
    assert.deepEqual(validateRegulation({ max_retries: 3, find_time: 120, ban_time: 300, modes: ['user'] }), []);
    assert.deepEqual(validateRegulation({ max_retries: 0, find_time: 120, ban_time: 120, modes: ['user', 'ip'] }), []);
  });

  it('max_retries 0 accepts any window, as configuration validation does (nothing is counted, so a gateway it loads also starts)', () => {
    assert.deepEqual(validateRegulation({ max_retries: 0, find_time: 3600, ban_time: 300, modes: ['user'] }), []);
  });

  it('requires find_time <= ban_time (a ban shorter than the window would let attempts pile up)', () => {
    assert.deepEqual(validateRegulation({ max_retries: 3, find_time: 301, ban_time: 300, modes: ['user'] }), [
      "regulation: option 'find_time' must be less than or equal to option 'ban_time'",
    ]);
  });

  it('lists every problem at once', () => {
    assert.deepEqual(validateRegulation({ max_retries: 1.5, find_time: 0, ban_time: -1, modes: ['host' as RegulationMode] }), [
      "regulation: option 'max_retries' must be 0 (disabled) or a positive integer, not 1.5",
      "regulation: option 'find_time' must be a duration greater than 0",
      "regulation: option 'ban_time' must be a duration greater than 0",
      "regulation: option 'find_time' must be less than or equal to option 'ban_time'",
      "regulation: option 'modes' must only contain 'user' and 'ip', not 'host'",
    ]);
    assert.deepEqual(validateRegulation({ max_retries: 3, find_time: 1, ban_time: 1, modes: [] }), [
      "regulation: option 'modes' must list at least one of 'user' and 'ip'",
    ]);
  });
});

describe('names and addresses are counted in one canonical form', () => {
  it('trims, applies NFKC and lower-cases usernames', () => {
    for (const written of ['alice', 'Alice', ' ALICE\t', 'ＡＬＩＣＥ', '\u3000alice']) assert.equal(normaliseUsername(written), 'alice');
    assert.equal(normaliseUsername('ǅ'), 'dž', 'NFKC then lower-case');
  });

  it('counts an IPv4-mapped IPv6 peer as its IPv4 address, and lower-cases IPv6', () => {
    assert.equal(normaliseIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(normaliseIp('2001:DB8::1'), '2001:db8::1');
    assert.equal(normaliseIp('::ffff:abcd'), '::ffff:abcd');
  });
});
