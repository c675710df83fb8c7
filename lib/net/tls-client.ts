/**
 * An outgoing connection's TLS options from Authelia's `tls` block (`server_name`, `skip_verify`,
 * `minimum_version`, `maximum_version`, `certificate_chain`, `private_key`), with the CAs of
 * `certificates_directory`. Every client (SMTP, PostgreSQL, MySQL, Redis, LDAP) builds its options here,
 * so each checks the server the same way.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type { TrustedCertificates } from './trusted-cas.ts';

export type TlsVersionName = 'TLS1.2' | 'TLS1.3';

/** The `tls` block as the configuration holds it. */
export interface TlsClientSettings {
  server_name?: string | undefined;
  skip_verify: boolean;
  minimum_version: TlsVersionName;
  maximum_version?: TlsVersionName | undefined;
  /** PEM: the client certificate first, then its intermediates. */
  certificate_chain?: string | undefined;
  /** PEM: the client certificate's private key. */
  private_key?: string | undefined;
}

/** Node's options, and the name the server's certificate must hold (for a driver that checks it itself: mysql2). */
export type TlsClientOptions = ConnectionOptions & { readonly expectedName: string };

const NODE_TLS_VERSIONS = { 'TLS1.2': 'TLSv1.2', 'TLS1.3': 'TLSv1.3' } as const;

/**
 * Node's TLS options for a connection to `host`. The server's certificate must chain to a trusted CA and
 * name `server_name` (or `host`) unless `skip_verify`. `server_name` is also sent as SNI; an IP address
 * is never sent as SNI (RFC 6066 section 3).
 */
export function tlsClientOptions(settings: TlsClientSettings, trusted: TrustedCertificates, host: string | undefined): TlsClientOptions {
  // no name configured (a Redis Sentinel set up by its nodes alone): the address each connection dials
  const expected = settings.server_name || host || '';
  const options: ConnectionOptions & { expectedName: string } = {
    expectedName: expected,
    rejectUnauthorized: !settings.skip_verify,
    minVersion: NODE_TLS_VERSIONS[settings.minimum_version],
    // a driver may set `servername` to its own host (pg does): the name is checked here, whatever SNI it sends
    checkServerIdentity: (name, certificate) => checkServerIdentity(expected || name, certificate),
  };
  if (expected !== '' && isIP(expected) === 0) options.servername = expected;
  if (settings.maximum_version) options.maxVersion = NODE_TLS_VERSIONS[settings.maximum_version];
  if (trusted.ca) options.ca = [...trusted.ca];
  if (settings.certificate_chain && settings.private_key) {
    options.cert = settings.certificate_chain;
    options.key = settings.private_key;
  }
  return options;
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA',
]);

const UNTRUSTED_MESSAGE = /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate/i;

/**
 * Why a TLS connection was refused, in words for a startup message; undefined when `error` is not a TLS
 * failure. Some drivers replace Node's code with their own (mysql2 `HANDSHAKE_SSL_ERROR`, nodemailer
 * `ESOCKET`): their message, Node's, is read then.
 */
export function tlsFailureReason(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  const said = message.split(';')[0]!.trim();
  if (typeof code === 'string' && UNTRUSTED.has(code)) return untrusted(code);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altnames/i.test(message)) {
    return `TLS: the server's certificate does not name the server (${said}); set tls.server_name to a name it holds`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS: the server's certificate is not valid now (${code})`;
  if (UNTRUSTED_MESSAGE.test(message)) return untrusted(said);
  if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) return `TLS: the handshake failed (${code})`;
  if (code === 'HANDSHAKE_SSL_ERROR') return `TLS: the handshake failed (${said})`;
  // pg's and mysql2's words when the server answers that it has no TLS: never a fall back to clear text
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || /does not support SSL/i.test(message)) return 'TLS: the server does not offer TLS';
  return undefined;
}

function untrusted(detail: string): string {
  return `TLS: the server's certificate is not signed by a trusted CA (${detail}); add the CA to certificates_directory`;
}
