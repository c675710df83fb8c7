/** The monitor's second factor: a TOTP or backup code checked against auth.json and spent there. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSync } from 'otplib';
import { generateBackupCodes, newTotpSecret } from '../../../../lib/totp.ts';
import { consumeSecondFactor } from '../../../../monitor/auth/second-factor.ts';
import type { AuthState } from '../../../../monitor/auth/store.ts';

const secret = newTotpSecret();
const T = 1_800_000_000_000; // a fixed instant, at the start of a 30 s step
const codeAt = (ms: number) => generateSync({ secret, epoch: Math.floor(ms / 1000) });

describe('backup codes', () => {
  it('is spent once through consumeSecondFactor', () => {
    const { codes, stored } = generateBackupCodes(2);
    const draft = { totp_secret: secret, last_totp_counter: null, backup_codes: stored } as unknown as AuthState;
    assert.deepEqual(consumeSecondFactor(draft, codes[0], T), { ok: true, method: 'backup_code' });
    assert.deepEqual(consumeSecondFactor(draft, codes[0], T), { ok: false, reason: 'replayed' });
    assert.deepEqual(consumeSecondFactor(draft, 'ZZZZ-ZZZZ', T), { ok: false, reason: 'invalid' });
    assert.deepEqual(consumeSecondFactor(draft, undefined, T), { ok: false, reason: 'missing' });
    assert.deepEqual(consumeSecondFactor(draft, codeAt(T), T), { ok: true, method: 'totp' });
    assert.equal(draft.last_totp_counter, Math.floor(T / 30_000));
  });
});
