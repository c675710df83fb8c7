// The gateway's TOTP (gateway/secondfactor/totp.ts) accepts exactly the codes an independent
// implementation (Debian's oathtool, RFC 6238) computes, for every algorithm and length the config
// allows, within `skew` steps of the injected clock and no further; the replay guard is the caller's
// storage (here a Set standing in for totp_history's unique key).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { requireBinary } from '../../helpers/binaries.ts';
import { checkTotpCode, chooseTotpParameters, matchingStep, newPendingTotp, otpauthUri, qrCodeSvg, secretBytes, totpOptions } from '../../../gateway/secondfactor/totp.ts';
import { totp as totpSchema } from '../../../gateway/config/second-factor-schema.ts';
import { totpProblems } from '../../../gateway/config/validate/totp.ts';
import type { TotpAlgorithm } from '../../../gateway/storage/totp.ts';

const oathtool = requireBinary('oathtool', 'oathtool');
const T = 1_800_000_000_000; // an instant at the start of a 30 s step

function oathCode(secret: Buffer, algorithm: TotpAlgorithm, digits: number, atMs: number, period = 30): string {
  const when = new Date(atMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return execFileSync(oathtool, [`--totp=${algorithm.toLowerCase()}`, '-d', String(digits), '-s', String(period), '--now', when, secret.toString('hex')], { encoding: 'utf8' }).trim();
}

describe('TOTP codes match oathtool (RFC 6238)', () => {
  for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
    for (const digits of [6, 8]) {
      it(`${algorithm}, ${digits} digits: the code for now is accepted, with its step`, async () => {
        const secret = randomBytes(algorithm === 'SHA1' ? 20 : algorithm === 'SHA256' ? 32 : 64);
        const config = { secret, algorithm, digits, period: 30 };
        const code = oathCode(secret, algorithm, digits, T + 7_000);
        assert.equal(code.length, digits);
        assert.equal(await matchingStep(config, code, T + 7_000, 0), Math.floor((T + 7_000) / 30_000));
        // a different code of the same length is not
        const wrong = String((Number(code) + 1) % 10 ** digits).padStart(digits, '0');
        assert.equal(await matchingStep(config, wrong, T + 7_000, 0), null);
      });
    }
  }

  it('a 60 s period follows oathtool too', async () => {
    const secret = randomBytes(32);
    const code = oathCode(secret, 'SHA1', 6, T + 45_000, 60);
    assert.equal(await matchingStep({ secret, algorithm: 'SHA1', digits: 6, period: 60 }, code, T + 45_000, 0), Math.floor((T + 45_000) / 60_000));
  });
});

describe('skew: codes within `skew` steps of the (injected) clock', () => {
  const secret = randomBytes(32);
  const config = { secret, algorithm: 'SHA1' as const, digits: 6, period: 30 };
  const step = Math.floor(T / 30_000);

  it('skew 1 takes the previous and next step, not two away', async () => {
    for (const offset of [-1, 0, 1]) assert.equal(await matchingStep(config, oathCode(secret, 'SHA1', 6, T + offset * 30_000), T, 1), step + offset, `offset ${offset}`);
    for (const offset of [-2, 2]) assert.equal(await matchingStep(config, oathCode(secret, 'SHA1', 6, T + offset * 30_000), T, 1), null, `offset ${offset}`);
  });

  it('skew 0 takes only the current step; skew 2 takes two away', async () => {
    assert.equal(await matchingStep(config, oathCode(secret, 'SHA1', 6, T - 30_000), T, 0), null);
    assert.equal(await matchingStep(config, oathCode(secret, 'SHA1', 6, T - 60_000), T, 2), step - 2);
  });

  it('anything but exactly the configured digits is refused before any HMAC', async () => {
    const code = oathCode(secret, 'SHA1', 6, T);
    for (const token of ['', code.slice(1), `${code}0`, ` ${code}`, `${code.slice(0, 5)}a`, '１２３４５６']) assert.equal(await matchingStep(config, token, T, 1), null, JSON.stringify(token));
  });
});

describe('the replay guard', () => {
  it('a code is accepted once: the same step is refused afterwards, the next step is accepted', async () => {
    const used = new Set<string>();
    const guard = { markStepUsed: async (username: string, step: number) => !used.has(`${username}:${step}`) && Boolean(used.add(`${username}:${step}`)) };
    const secret = randomBytes(32);
    const config = { username: 'alice', secret, algorithm: 'SHA1' as const, digits: 6, period: 30 };
    const code = oathCode(secret, 'SHA1', 6, T);
    assert.equal((await checkTotpCode(guard, config, code, T, 1)).ok, true);
    assert.deepEqual(await checkTotpCode(guard, config, code, T + 10_000, 1), { ok: false, reason: 'replayed' });
    assert.equal((await checkTotpCode(guard, config, oathCode(secret, 'SHA1', 6, T + 30_000), T + 30_000, 1)).ok, true);
    assert.deepEqual(await checkTotpCode(guard, config, '000000', T, 1), { ok: false, reason: 'invalid' });
  });
});

describe('registration', () => {
  const settings = totpSchema.parse({ allowed_algorithms: ['SHA256'], allowed_digits: [8], allowed_periods: [60] });

  it('the options list each default first and add it to its allowed list (as Authelia does)', () => {
    assert.deepEqual(totpOptions(settings), { algorithm: 'SHA1', algorithms: ['SHA1', 'SHA256'], length: 6, lengths: [6, 8], period: 30, periods: [30, 60] });
  });

  it('a choice outside the allowed lists is refused', () => {
    assert.deepEqual(chooseTotpParameters(settings, { algorithm: 'sha256', length: 8, period: 60 }), { algorithm: 'SHA256', digits: 8, period: 60 });
    assert.equal(chooseTotpParameters(settings, { algorithm: 'SHA512' }), null);
    assert.equal(chooseTotpParameters(settings, { length: 7 }), null);
    assert.equal(chooseTotpParameters(settings, { period: 45 }), null);
    assert.equal(chooseTotpParameters({ ...settings, disable: true }), null, 'totp.disable: nothing to register');
  });

  it('a new key has secret_size bytes, an otpauth URI with its parameters, and a QR code as SVG markup', async () => {
    const pending = await newPendingTotp({ ...settings, secret_size: 40 }, { algorithm: 'SHA256', digits: 8, period: 60 }, T);
    assert.equal((await secretBytes(pending.secret)).length, 40);
    assert.match(pending.secret, /^[A-Z2-7]+$/);
    const uri = await otpauthUri(pending, 'alice');
    const url = new URL(uri);
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.searchParams.get('secret'), pending.secret);
    assert.equal(url.searchParams.get('issuer'), 'Gatehouse');
    assert.equal(url.searchParams.get('algorithm'), 'SHA256');
    assert.equal(url.searchParams.get('digits'), '8');
    assert.equal(url.searchParams.get('period'), '60');
    assert.match(decodeURIComponent(url.pathname), /Gatehouse:alice$/);
    // the code oathtool computes from the URI's secret is the one the gateway expects
    const code = oathCode(await secretBytes(pending.secret), 'SHA256', 8, T, 60);
    assert.equal(await matchingStep({ secret: await secretBytes(pending.secret), algorithm: 'SHA256', digits: 8, period: 60 }, code, T, 0), Math.floor(T / 60_000));
    const svg = await qrCodeSvg(uri);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /<script|style=/);
  });
});

describe('totp config validation', () => {
  it('warns about defaults some apps ignore, a wide skew and the ignored reuse option; nothing for the defaults', () => {
    assert.deepEqual(totpProblems(totpSchema.parse({})), []);
    const problems = totpProblems(totpSchema.parse({ algorithm: 'sha512', digits: 8, skew: 3, disable_reuse_security_policy: true }));
    assert.deepEqual(problems.map((p) => [p.path, p.severity]), [['totp', 'warning'], ['totp.skew', 'warning'], ['totp.disable_reuse_security_policy', 'warning']]);
    assert.match(problems[0]!.message, /algorithm SHA512, 8 digits/);
    assert.deepEqual(totpProblems(totpSchema.parse({ disable: true, skew: 5 })), []);
  });
});
