/**
 * Logout that ends everything: when a gateway session ends (sign-out, "sign out everywhere", a session
 * ended from the settings page, a password reset), every provider session it started ends too. Each
 * client that held a grant there gets a back-channel logout token (when it registered a
 * backchannel_logout_uri) and loses the grant with its refresh and access tokens.
 */
import type { Logger } from 'pino';
import type { OidcRepository } from '../storage/oidc.ts';
import type { UserAdmin } from '../users/provider.ts';
import type { OidcProvider } from './provider.ts';

interface SessionPayload {
  jti?: string;
  /** epoch seconds */
  exp?: number;
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
  /**
   * Signs the user out of one client everywhere (a revoked consent): each provider session forgets its
   * authorization (the client is told over the back channel) and every grant the user gave it is
   * revoked; returns how many grants were revoked.
   */
  endClient(username: string, clientId: string): Promise<number>;
  /** The client ids the user is signed in to: a live grant, or an authorization in a live provider session. */
  signedInClients(username: string): Promise<string[]>;
}

export function createOidcLogout(deps: { oidc: OidcProvider; repo: OidcRepository; logger: Logger; now: () => number }): OidcLogout {
  const { oidc, repo, logger } = deps;

  const revokeGrant = async (grantId: string) => {
    await repo.revokeByGrantId(grantId);
    await repo.destroy('Grant', grantId);
    // as the provider announces its own revocations: forward auth's token cache (oidc/bearer.ts) forgets the grant's tokens now
    oidc.provider.emit('grant.revoked', undefined, grantId);
  };

  const tell = async (clientId: string, accountId: string, sid: string | undefined) => {
    const client = await oidc.provider.Client.find(clientId);
    if (!client?.backchannelLogoutUri || !sid) return false;
    try {
      await client.backchannelLogout(accountId, sid);
      logger.info({ client: clientId }, 'oidc: back-channel logout delivered');
      return true;
    } catch (error) {
      logger.warn({ client: clientId, err: (error as Error).message }, 'oidc: a back-channel logout was not delivered');
      return false;
    }
  };

  /** Tells the session's clients and revokes their grants; returns how many clients were told. */
  const endSession = async (uid: string): Promise<number> => {
    const payload = (await repo.findByUid('Session', uid, deps.now())) as SessionPayload | undefined;
    let told = 0;
    if (payload?.accountId) {
      const deliveries = Object.entries(payload.authorizations ?? {}).map(async ([clientId, { sid, grantId }]) => {
        if (await tell(clientId, payload.accountId!, sid)) told += 1;
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
    async endClient(username, clientId) {
      const now = deps.now();
      // read, never made here: a user with no subject holds nothing to end
      const sub = await repo.existingSubject(username);
      if (sub === undefined) return 0;
      for (const { id, payload } of await repo.listByAccount('Session', sub, now)) {
        const session = payload as SessionPayload;
        const authorization = session.authorizations?.[clientId];
        if (!authorization || !session.authorizations) continue;
        await tell(clientId, sub, authorization.sid);
        if (authorization.grantId) await revokeGrant(authorization.grantId);
        delete session.authorizations[clientId];
        const left = typeof session.exp === 'number' ? session.exp - Math.floor(now / 1000) : undefined;
        if (left === undefined || left > 0) await repo.upsert('Session', id, payload, left, now);
      }
      let revoked = 0;
      for (const { id, payload } of await repo.listByAccount('Grant', sub, now)) {
        if (payload.clientId !== clientId) continue;
        await revokeGrant(id);
        revoked += 1;
      }
      return revoked;
    },
    async signedInClients(username) {
      const now = deps.now();
      // read, never made here: showing the settings page must not give every user a subject
      const sub = await repo.existingSubject(username);
      if (sub === undefined) return [];
      const ids = new Set<string>();
      for (const { payload } of await repo.listByAccount('Grant', sub, now)) if (typeof payload.clientId === 'string') ids.add(payload.clientId);
      for (const { payload } of await repo.listByAccount('Session', sub, now)) for (const clientId of Object.keys((payload as SessionPayload).authorizations ?? {})) ids.add(clientId);
      return [...ids].sort();
    },
    async endLinked(linkKey) {
      if (!linkKey) return 0;
      return endAll(await repo.linkedSessions({ linkKey }));
    },
    async endUser(username, keepLinkKey) {
      const kept = new Set(keepLinkKey ? await repo.linkedSessions({ linkKey: keepLinkKey }) : []);
      const keptGrants = new Set<string>();
      // a user removed (or renamed away: gatehouse users rename) may have no subject: none is made for them
      const sub = await repo.existingSubject(username);
      const uids = new Set(await repo.linkedSessions({ username }));
      for (const { payload } of sub === undefined ? [] : await repo.listByAccount('Session', sub, deps.now())) {
        if (typeof payload.uid !== 'string') continue;
        if (kept.has(payload.uid)) {
          for (const { grantId } of Object.values((payload as SessionPayload).authorizations ?? {})) if (grantId) keptGrants.add(grantId);
        } else uids.add(payload.uid);
      }
      const told = await endAll([...uids].filter((uid) => !kept.has(uid)));
      for (const { id } of sub === undefined ? [] : await repo.listByAccount('Grant', sub, deps.now())) if (!keptGrants.has(id)) await revokeGrant(id);
      return told;
    },
  };
}

/**
 * A user removed from the users file, or disabled there, is signed out of their apps at once (each
 * client told over the back channel, every grant revoked): the users are compared before and after
 * each change. A backend that does not report its changes (LDAP) leaves it to the tokens' lifetimes
 * (findAccount finds no such user, so userinfo and refresh stop working).
 */
export function endRemovedUsers(users: Pick<UserAdmin, 'listUsers' | 'onChange'>, logout: Pick<OidcLogout, 'endUser'>, repo: Pick<OidcRepository, 'forgetUser'>, logger: Logger): void {
  if (!users.onChange) return;
  const active = (list: ReturnType<typeof users.listUsers>) => new Set(list.filter((user) => !user.disabled).map((user) => user.username));
  let before = active(users.listUsers());
  users.onChange(() => {
    const list = users.listUsers();
    const present = new Set(list.map((user) => user.username));
    const now = active(list);
    const gone = [...before].filter((username) => !now.has(username));
    before = now;
    for (const username of gone) {
      logger.info({ user: username }, 'oidc: a user removed or disabled is signed out of their apps');
      // removed (not merely disabled): once their apps are told, the subject is forgotten, so a new user
      // given the name later is someone else to every app; a disabled user keeps theirs for when they return
      const removed = !present.has(username);
      logout
        .endUser(username)
        .then(() => (removed ? repo.forgetUser(username) : undefined))
        .catch((error: unknown) => logger.warn({ err: error, user: username }, 'oidc: the apps of a removed user could not all be signed out'));
    }
  });
}
