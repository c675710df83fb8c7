/**
 * What a client requires of a user (its authorization_policy) and whether a remembered consent covers
 * a request: read by the portal's interaction page and by a silent (`prompt=none`) authorization.
 */
import { makeAddressMatcher } from '../../lib/net/address.ts';
import type { OidcClientConfig, OidcProviderConfig } from '../config/oidc-schema.ts';
import type { OidcRepository } from '../storage/oidc.ts';
import type { UserDetails } from '../users/provider.ts';

/** The ACR values Gatehouse issues: the portal's authentication level, by policy name. */
export const ACR_VALUES = ['one_factor', 'two_factor'] as const;

export type ConsentMode = 'explicit' | 'implicit' | 'pre-configured';

/** Authelia's `auto`: pre-configured when a duration is set, else explicit. */
export function consentModeOf(client: OidcClientConfig): ConsentMode {
  if (client.consent_mode === 'auto') return client.pre_configured_consent_duration === undefined ? 'explicit' : 'pre-configured';
  return client.consent_mode;
}

/** What the client's authorization_policy requires of this user from this address: 1, 2, or refusal. */
export function requiredLevelFor(config: OidcProviderConfig, client: OidcClientConfig, user: Pick<UserDetails, 'username' | 'groups'>, ip: string): 1 | 2 | 'deny' {
  const levelOf = (policy: string) => (policy === 'one_factor' ? 1 : policy === 'two_factor' ? 2 : 'deny');
  const named = config.authorization_policies[client.authorization_policy];
  if (!named) return levelOf(client.authorization_policy);
  for (const rule of named.rules) {
    const subjects = rule.subject ?? [];
    const subjectHit =
      subjects.length === 0 ||
      subjects.some((entry) => (Array.isArray(entry) ? entry : [entry]).every((subject) => subjectMatches(subject, user)));
    const networkHit = !rule.networks || rule.networks.length === 0 || makeAddressMatcher(rule.networks)(ip);
    if (subjectHit && networkHit) return levelOf(rule.policy);
  }
  return levelOf(named.default_policy);
}

function subjectMatches(subject: string, user: Pick<UserDetails, 'username' | 'groups'>): boolean {
  if (subject.startsWith('user:')) return subject.slice(5) === user.username;
  if (subject.startsWith('group:')) return user.groups.includes(subject.slice(6));
  return false;
}

/** Whether `username`'s remembered consent for the client covers these scopes and claims (implicit: always; explicit: never). */
export async function consentCovered(repo: Pick<OidcRepository, 'findConsent'>, client: OidcClientConfig, username: string, scopes: readonly string[], claims: readonly string[], nowMs: number): Promise<boolean> {
  const mode = consentModeOf(client);
  if (mode === 'implicit') return true;
  if (mode === 'explicit') return false;
  const consent = await repo.findConsent(username, client.client_id, nowMs);
  return consent !== undefined && scopes.every((scope) => consent.scopes.includes(scope)) && claims.every((claim) => consent.claims.includes(claim));
}

/** The scopes a request asked for (`scope` as sent) that the client may have, once each. */
export function allowedScopes(client: OidcClientConfig, scope: string | undefined): string[] {
  const allowed = new Set(client.scopes);
  return [...new Set((scope ?? '').split(' ').filter((name) => name !== '' && allowed.has(name)))];
}

/**
 * Whether a session at `level` may be given a code for `client`: 'deny' when the client's policy refuses
 * this user from this address, else whether the level meets the policy and an `acr_values=two_factor`
 * the request sent (read by the portal's interaction page and by a silent authorization alike).
 */
export function levelSuffices(config: OidcProviderConfig, client: OidcClientConfig, user: Pick<UserDetails, 'username' | 'groups'>, ip: string, level: number, acrValues: string | undefined): boolean | 'deny' {
  const needed = requiredLevelFor(config, client, user, ip);
  if (needed === 'deny') return 'deny';
  return level >= needed && (level >= 2 || !(acrValues ?? '').split(' ').includes('two_factor'));
}
