/**
 * What a Gatehouse session holds. The authentication level is derived from the factors used (RFC 8176
 * AMR values), never stored as a flag, so no code path can set "level 2" without a second factor.
 */
import 'express-session';

/** RFC 8176 values; `mfa`: one authenticator proved two factors (a passkey that verified its user). */
export type AuthenticationMethod = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'pin' | 'kba' | 'mfa';

export interface SessionIdentity {
  username: string;
  displayName: string;
  emails: string[];
  groups: string[];
}

declare module 'express-session' {
  interface SessionData {
    identity: SessionIdentity;
    /** Factors proven in this session. */
    amr: AuthenticationMethod[];
    firstFactorAt: number;
    /**
     * Epoch ms when the session ends, whatever happens in between: set once at login. express-session
     * slides its own cookie expiry on every request it sees, so that one is not used for the decision.
     */
    expiresAt: number;
    secondFactorAt: number;
    keepMeLoggedIn: boolean;
    /** Epoch ms of the last request seen; inactivity is measured from it. */
    lastActivity: number;
    /** The cookie domain the session was created for; a session is never honoured on another. */
    cookieDomain: string;
    /**
     * The id the session was stored under. The value is encrypted but could be copied to another key
     * by whoever can write the store; a session read under any other id is no session.
     */
    sid: string;
    /** The user's credential stamp at login: a changed password ends the session. */
    credentialStamp: string;
  }
}

const KNOWLEDGE: ReadonlySet<string> = new Set(['pwd', 'pin', 'kba']);
const POSSESSION: ReadonlySet<string> = new Set(['otp', 'hwk', 'swk']);

export type AuthenticationLevel = 0 | 1 | 2;

export function authenticationLevel(amr: readonly string[] | undefined): AuthenticationLevel {
  if (!amr || amr.length === 0) return 0;
  const knowledge = amr.some((m) => KNOWLEDGE.has(m));
  const possession = amr.some((m) => POSSESSION.has(m));
  if (knowledge && possession) return 2;
  // `mfa` qualifies a possession factor: its authenticator also verified the user (a passkey's PIN or
  // biometrics); alone it proves nothing
  if (possession && amr.includes('mfa')) return 2;
  return knowledge || possession ? 1 : 0;
}
