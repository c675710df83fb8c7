/**
 * Client secrets at the token, introspection, revocation and PAR endpoints. The configuration holds
 * digests (`$pbkdf2-sha512$`, `$argon2id$`) or, warned, `$plaintext$`; oidc-provider compares plain
 * secrets, so its comparison is replaced by this one:
 * - limited before any hash runs, per client address (lib/rate-limit.ts); not per client id, which is
 *   public: a limit there would let anyone lock an app out;
 * - constant-time (lib/client-secret.ts);
 * - audited, in the line Fail2Ban reads (`method=oidc-client`);
 * - a secret that was right is remembered as its SHA-256 for ten minutes after its last use, so a busy
 *   client (a refresh every few seconds) does not pay 310,000 PBKDF2 rounds each time; a wrong one
 *   always pays.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { clientSecretFormat, verifyClientSecret } from '../../lib/client-secret.ts';
import { createRateLimiter, type RateLimiter } from '../../lib/rate-limit.ts';
import type { AuditLog } from '../log/audit.ts';
import type { OidcClientConfig } from '../config/oidc-schema.ts';

/** Who is asking, for the request being handled (set by the provider's handler). */
export const oidcRequest = new AsyncLocalStorage<{ ip: string }>();

const REMEMBER_MS = 10 * 60_000;

export interface ClientSecretChecker {
  /** The secret oidc-provider is given for a client: the plain one for `$plaintext$`, else the digest. */
  providerSecret(client: OidcClientConfig): string;
  /** Replaces the provider's comparison with check(). */
  install(provider: any, clients: ReadonlyMap<string, OidcClientConfig>): void;
  check(clientId: string, stored: string, presented: string): Promise<boolean>;
  /** How many digests were computed (tests and the benchmark count them). */
  readonly hashed: number;
}

export function clientSecretChecker(options: { now: () => number; logger: Logger; audit?: AuditLog; limiter?: RateLimiter }): ClientSecretChecker {
  // per address only: a client id is public, so a limit per client would let anyone lock the app out of
  // its own token endpoint (a secret is long and random: guessing it is not the threat, hashing cost is)
  const limiter = options.limiter ?? createRateLimiter({ now: options.now, perIp: { max: 10, windowMs: 5 * 60_000 } });
  const remembered = new Map<string, { digest: Buffer; until: number }>();
  let hashed = 0;
  const digestOf = (clientId: string, presented: string) => createHash('sha256').update(clientId).update('\0').update(presented, 'utf8').digest();

  const checker: ClientSecretChecker = {
    get hashed() {
      return hashed;
    },
    providerSecret(client) {
      const secret = client.client_secret ?? '';
      return clientSecretFormat(secret) === 'plaintext' ? secret.slice('$plaintext$'.length) : secret;
    },
    install(provider, clients) {
      provider.Client.prototype.compareClientSecret = async function compareClientSecret(this: { clientId: string }, presented: string) {
        const stored = clients.get(this.clientId)?.client_secret;
        return stored !== undefined && (await checker.check(this.clientId, stored, presented));
      };
    },
    async check(clientId, stored, presented) {
      const ip = oidcRequest.getStore()?.ip ?? '';
      const now = options.now();
      const digest = digestOf(clientId, presented);
      const known = remembered.get(clientId);
      if (known && known.until > now && timingSafeEqual(known.digest, digest)) {
        // a client in use stays remembered: it never pays the digest again while it keeps coming
        known.until = now + REMEMBER_MS;
        return true;
      }
      const subject = { ip };
      const attempt = limiter.reserve(subject);
      if (attempt.limited) {
        options.audit?.refused({ rhost: ip, user: clientId, method: 'oidc-client', reason: 'too many wrong secrets' });
        return false;
      }
      hashed += 1;
      const right = await verifyClientSecret(stored, presented);
      if (right) {
        attempt.release();
        remembered.set(clientId, { digest, until: now + REMEMBER_MS });
        options.audit?.success({ rhost: ip, user: clientId, method: 'oidc-client' });
      } else {
        options.audit?.failure({ rhost: ip, user: clientId, method: 'oidc-client', reason: 'wrong client secret' });
      }
      return right;
    },
  };
  return checker;
}
