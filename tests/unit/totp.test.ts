/** TOTP (RFC 6238, ±1 step) with the replay guard, and single-use backup codes (lib/totp.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSync } from 'otplib';
import { checkTotp, findBackupCode, generateBackupCodes, newTotpSecret, normaliseBackupCode, provisioningUri, qrCodeDataUrl } from '../../lib/totp.ts';
import { TOTP_ISSUER } from '../../monitor/auth/second-factor.ts';

const secret = newTotpSecret();
const T = 1_800_000_000_000; // a fixed instant, at the start of a 30 s step
const codeAt = (ms: number) => generateSync({ secret, epoch: Math.floor(ms / 1000) });

describe('TOTP codes', () => {
  it('accepts the current step and one either side, not two', () => {
    for (const offset of [-30_000, 0, 30_000]) assert.equal(checkTotp(secret, codeAt(T + offset), null, T).ok, true, `offset ${offset}`);
    for (const offset of [-60_000, 60_000]) assert.equal(checkTotp(secret, codeAt(T + offset), null, T).ok, false, `offset ${offset}`);
  });

  it('refuses a code whose step is not after the last accepted one ("code already used")', () => {
    const first = checkTotp(secret, codeAt(T), null, T);
    assert.ok(first.ok);
    assert.deepEqual(checkTotp(secret, codeAt(T), first.counter, T + 5_000), { ok: false, reason: 'replayed' });
    assert.deepEqual(checkTotp(secret, codeAt(T - 30_000), first.counter, T), { ok: false, reason: 'replayed' });
    assert.equal(checkTotp(secret, codeAt(T + 30_000), first.counter, T + 30_000).ok, true);
  });

  it('refuses anything that is not six digits', () => {
    for (const code of ['', '12345', '1234567', 'abcdef', ' 123456']) assert.deepEqual(checkTotp(secret, code, null, T), { ok: false, reason: 'invalid' });
  });

  it('renders an otpauth URI as a PNG data URL', async () => {
    const uri = provisioningUri(TOTP_ISSUER, 'admin', secret);
    assert.match(uri, /^otpauth:\/\/totp\/Gatehouse%20Monitor:admin\?secret=[A-Z2-7]+/);
    assert.match(await qrCodeDataUrl(uri), /^data:image\/png;base64,iVBORw0KGgo/);
  });
});

describe('backup codes', () => {
  it('makes 10 distinct XXXX-XXXX codes without 0, O, 1 or I, stored as sha256', () => {
    const { codes, stored } = generateBackupCodes();
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    for (const entry of stored) assert.match(entry.code, /^[0-9a-f]{64}$/);
  });

  it('normalises case, spaces and the dash', () => {
    assert.equal(normaliseBackupCode('abcd efgh'), 'ABCD-EFGH');
    assert.equal(normaliseBackupCode('ABCDEFGH'), 'ABCD-EFGH');
    assert.equal(normaliseBackupCode('ABC'), null);
    const { codes, stored } = generateBackupCodes(3);
    assert.equal(findBackupCode(stored, codes[2]!.toLowerCase()), 2);
  });
});
