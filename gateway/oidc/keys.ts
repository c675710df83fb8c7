/**
 * The provider's signing keys: `identity_providers.oidc.jwks` (PEM private keys, Authelia's shape), or,
 * when none is configured and storage is local, one RSA key made on first start beside the database
 * (the embedded default's data directory) and kept there (0600). Several instances sharing PostgreSQL
 * must share keys, so there an empty `jwks` is a configuration error (validate/identity-providers.ts).
 *
 * `hmac_secret`, when absent, is derived from the storage encryption key: every instance that can read
 * the database derives the same one, and nothing else can.
 */
import { createHash, createPrivateKey, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ConfigError } from '../../lib/errors.ts';
import { loadOrCreateKey } from '../../lib/key-file.ts';
import type { OidcProviderConfig } from '../config/oidc-schema.ts';

export interface SigningKeys {
  /** Private JWKs as oidc-provider takes them. */
  privateJwks: JWK[];
  /** The same keys without their private parts, for /jwks.json. */
  publicJwks: JWK[];
}

const EC_ALGS: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

function defaultAlgorithm(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'rsa-pss') return 'PS256';
  if (key.asymmetricKeyType === 'ec') {
    const alg = EC_ALGS[key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-521'];
    if (alg) return alg;
  }
  throw new ConfigError([`identity_providers.oidc.jwks: a ${key.asymmetricKeyType ?? 'symmetric'} key cannot sign ID tokens; use an RSA or EC (P-256, P-384, P-521) key`]);
}

function toJwk(key: KeyObject, keyId: string | undefined, algorithm: string | undefined): { privateJwk: JWK; publicJwk: JWK } {
  const alg = algorithm ?? defaultAlgorithm(key);
  const exported = key.export({ format: 'jwk' }) as JWK;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = exported;
  // Authelia names a key by a digest of its public part when key_id is not set; so does Gatehouse
  const kid = keyId ?? createHash('sha256').update(JSON.stringify(publicPart)).digest('hex').slice(0, 16);
  return { privateJwk: { ...exported, kid, alg, use: 'sig' }, publicJwk: { ...publicPart, kid, alg, use: 'sig' } };
}

function readKey(pem: string, at: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError([`${at}: not a PEM private key Gatehouse can read (${(error as Error).message})`]);
  }
}

/** The configured keys, or the generated one at `generatedPath` (made there on first use). */
export async function loadSigningKeys(config: OidcProviderConfig, generatedPath: string | null): Promise<SigningKeys & { generated: boolean }> {
  const privateJwks: JWK[] = [];
  const publicJwks: JWK[] = [];
  let generated = false;
  if (config.jwks.length > 0) {
    config.jwks.forEach((entry, index) => {
      const { privateJwk, publicJwk } = toJwk(readKey(entry.key, `identity_providers.oidc.jwks[${index}].key`), entry.key_id, entry.algorithm);
      privateJwks.push(privateJwk);
      publicJwks.push(publicJwk);
    });
  } else {
    if (generatedPath === null) throw new ConfigError(['identity_providers.oidc.jwks: no signing key is configured; add one (openssl genrsa 2048) under jwks[].key']);
    const made = await loadOrCreateKey(generatedPath, () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'identity_providers.oidc signing key');
    generated = made.created;
    const key = made.key;
    const { privateJwk, publicJwk } = toJwk(key, undefined, 'RS256');
    privateJwks.push(privateJwk);
    publicJwks.push(publicJwk);
  }
  if (!privateJwks.some((jwk) => jwk.alg === 'RS256')) {
    throw new ConfigError(['identity_providers.oidc.jwks: one key must be an RSA key with algorithm RS256, the algorithm every OpenID Connect client can check']);
  }
  return { privateJwks, publicJwks, generated };
}

/** `hmac_secret`, or one derived from the storage encryption key (the same on every instance). */
export function hmacSecret(config: OidcProviderConfig, storageEncryptionKey: string): string {
  if (config.hmac_secret) return config.hmac_secret;
  return Buffer.from(hkdfSync('sha256', storageEncryptionKey, 'gatehouse', 'identity_providers.oidc.hmac_secret', 32)).toString('base64url');
}
