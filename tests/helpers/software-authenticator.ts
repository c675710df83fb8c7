/**
 * A WebAuthn authenticator in software (ES256 with node:crypto, `none` attestation): it answers the
 * options the gateway hands out as a browser and a security key would, so the server's checks are
 * exercised without a browser. Written from the WebAuthn Level 3 spec (§6.1 authenticator data,
 * §6.5 attestation object, §5.8.1 client data), independently of @simplewebauthn/server.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

// ---- a minimal CBOR encoder (RFC 8949): unsigned/negative ints, byte and text strings, maps

function head(major: number, value: number): Buffer {
  if (value < 24) return Buffer.from([(major << 5) | value]);
  if (value < 0x100) return Buffer.from([(major << 5) | 24, value]);
  if (value < 0x10000) return Buffer.from([(major << 5) | 25, value >> 8, value & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(value, 1);
  return b;
}

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  const parts: Buffer[] = [head(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return Buffer.concat(parts);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface SoftwareCredential {
  id: Buffer;
  privateKey: KeyObject;
  /** COSE_Key (EC2, P-256, ES256) */
  cosePublicKey: Buffer;
  userHandle: Buffer | null;
  counter: number;
}

export function newCredential(userHandle: Buffer | null = null): SoftwareCredential {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const cosePublicKey = cbor(
    new Map<Cbor, Cbor>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]),
  );
  return { id: randomBytes(32), privateKey, cosePublicKey, userHandle, counter: 0 };
}

interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}

interface RequestOptions {
  challenge: string;
  rpId?: string;
}

export interface AuthenticatorBehaviour {
  origin: string;
  /** user verified (PIN, biometrics); default true */
  userVerified?: boolean;
  /** what credProps reports; default false */
  residentKey?: boolean;
  /** the counter to sign with instead of the next one */
  counter?: number;
}

function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');
}

/** The browser's RegistrationResponseJSON for `options` (the gateway's `data.publicKey`). */
export function register(options: CreationOptions, behaviour: AuthenticatorBehaviour): { credential: SoftwareCredential; response: Record<string, unknown> } {
  const credential = newCredential(Buffer.from(options.user.id, 'base64url'));
  const rpId = options.rp.id ?? new URL(behaviour.origin).hostname;
  const flags = FLAGS.UP | FLAGS.AT | (behaviour.userVerified === false ? 0 : FLAGS.UV);
  const counter = Buffer.alloc(4);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(credential.id.length);
  const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, Buffer.alloc(16), idLength, credential.id, credential.cosePublicKey]);
  const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
  const id = b64url(credential.id);
  return {
    credential,
    response: {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientData('webauthn.create', options.challenge, behaviour.origin)), attestationObject: b64url(attestationObject), transports: ['usb'] },
      clientExtensionResults: { credProps: { rk: behaviour.residentKey === true } },
      authenticatorAttachment: 'cross-platform',
    },
  };
}

/** The browser's AuthenticationResponseJSON signed by `credential` (its counter moves forward unless told). */
export function assert(credential: SoftwareCredential, options: RequestOptions, behaviour: AuthenticatorBehaviour): Record<string, unknown> {
  const rpId = options.rpId ?? new URL(behaviour.origin).hostname;
  if (behaviour.counter === undefined) credential.counter += 1;
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(behaviour.counter ?? credential.counter);
  const flags = FLAGS.UP | (behaviour.userVerified === false ? 0 : FLAGS.UV);
  const authenticatorData = Buffer.concat([sha256(rpId), Buffer.from([flags]), counter]);
  const clientDataJSON = clientData('webauthn.get', options.challenge, behaviour.origin);
  const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), credential.privateKey);
  const id = b64url(credential.id);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: b64url(clientDataJSON),
      authenticatorData: b64url(authenticatorData),
      signature: b64url(signature),
      ...(credential.userHandle ? { userHandle: b64url(credential.userHandle) } : {}),
    },
    clientExtensionResults: {},
    authenticatorAttachment: 'cross-platform',
  };
}
