/**
 * Logout that ends everything: when a gateway session ends (sign-out, "sign out everywhere", a session
 * ended from the settings page, a password reset), every provider session it started ends too. Each
 * client that held a grant there gets a back-channel logout token (when it registered a
 * backchannel_logout_uri) and loses the grant with its refresh and access tokens.
 */
import type { Logger } from 'pino';
import type { OidcRepository } from '../storage/oidc.ts';
import type { OidcProvider } from './provider.ts';

interface SessionPayload {
  jti?: string;
  accountId?: string;
  authorizations?: Record<string, { sid?: string; grantId?: string }>;
}

export interface OidcLogout {
  /** Ends the provider sessions tied to the gateway session holding `linkKey`; returns how many clients were told. */
  endLinked(linkKey: string | undefined): Promise<number>;
  /**
   * Ends every provider session of the user and revokes every grant they gave (a new password), except
   * the sessions tied to `keepLinkKey` and their grants (the session that changed the password lives on).
   */
  endUser(username: string, keepLinkKey?: string): Promise<number>;
}

export function createOidcLogout(deps: { oidc: OidcProvider; repo: OidcRepository; logger: Logger; now: () => number }): OidcLogout {
  const { oidc, repo, logger } = deps;

  const revokeGrant = async (grantId: string) => {
    await repo.revokeByGrantId(grantId);
    await repo.destroy('Grant', grantId);
    // as the provider announces its own revocations: forward auth's token cache (oidc/bearer.ts) forgets the grant's tokens now
    oidc.provider.emit('grant.revoked', undefined, grantId);
  };

  /** Tells the session's clients and revokes their grants; returns how many clients were told. */
  const endSession = async (uid: string): Promise<number> => {
    const payload = (await repo.findByUid('Session', uid, deps.now())) as SessionPayload | undefined;
    let told = 0;
    if (payload?.accountId) {
      const deliveries = Object.entries(payload.authorizations ?? {}).map(async ([clientId, { sid, grantId }]) => {
        const client = await oidc.provider.Client.find(clientId);
        if (client?.backchannelLogoutUri && sid) {
          try {
            await client.backchannelLogout(payload.accountId, sid);
            told += 1;
            logger.info({ client: clientId }, 'oidc: back-channel logout delivered');
          } catch (error) {
            logger.warn({ client: clientId, err: (error as Error).message }, 'oidc: a back-channel logout was not delivered');
          }
        }
        if (grantId) await revokeGrant(grantId);
      });
      await Promise.all(deliveries);
      if (payload.jti) await repo.destroy('Session', payload.jti);
    }
    await repo.unlinkSessions([uid]);
    return told;
  };

  const endAll = async (uids: readonly string[]) => (await Promise.all(uids.map(endSession))).reduce((sum, n) => sum + n, 0);

  return {
    async endLinked(linkKey) {
      if (!linkKey) return 0;
      return endAll(await repo.linkedSessions({ linkKey }));
    },
    async endUser(username, keepLinkKey) {
      const kept = new Set(keepLinkKey ? await repo.linkedSessions({ linkKey: keepLinkKey }) : []);
      const keptGrants = new Set<string>();
      const sub = await repo.subjectFor(username, deps.now());
      const uids = new Set(await repo.linkedSessions({ username }));
      for (const { payload } of await repo.listByAccount('Session', sub, deps.now())) {
        if (typeof payload.uid !== 'string') continue;
        if (kept.has(payload.uid)) {
          for (const { grantId } of Object.values((payload as SessionPayload).authorizations ?? {})) if (grantId) keptGrants.add(grantId);
        } else uids.add(payload.uid);
      }
      const told = await endAll([...uids].filter((uid) => !kept.has(uid)));
      for (const { id } of await repo.listByAccount('Grant', sub, deps.now())) if (!keptGrants.has(id)) await revokeGrant(id);
      return told;
    },
  };
}
