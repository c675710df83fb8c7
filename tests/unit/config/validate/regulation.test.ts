import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { regulationProblems } from '../../../../gateway/config/validate/regulation.ts';
import { parsed } from './parsed.ts';

const regulation = (raw: Record<string, unknown>) => regulationProblems(parsed({ regulation: raw }).regulation);

describe('regulation validator', () => {
  it("Authelia's defaults have no problem", () => {
    assert.deepEqual(regulation({}), []);
  });

  it('a window longer than the ban is an error at find_time', () => {
    assert.deepEqual(regulation({ find_time: '1h', ban_time: '5m' }), [
      { path: 'regulation.find_time', message: 'must be less than or equal to regulation.ban_time (3600s > 300s)', severity: 'error' },
    ]);
  });

  it('a window or ban of 0s (or -1) is found here, as the regulator refuses it at start', () => {
    assert.deepEqual(regulation({ find_time: 0, ban_time: -1 }), [
      { path: 'regulation.find_time', message: 'must be a duration greater than 0 (0s)', severity: 'error' },
      { path: 'regulation.ban_time', message: 'must be a duration greater than 0 (-1s)', severity: 'error' },
      { path: 'regulation.find_time', message: 'must be less than or equal to regulation.ban_time (0s > -1s)', severity: 'error' },
    ]);
  });

  it('max_retries 0 is a warning: brute-force protection is off', () => {
    assert.deepEqual(regulation({ max_retries: 0 }), [
      { path: 'regulation.max_retries', message: 'is 0: brute-force protection is disabled', severity: 'warning' },
    ]);
  });
});
