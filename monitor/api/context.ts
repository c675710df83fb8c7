/** What the account API's handler files (account, credentials, api-tokens, profile, ssl) are built from, once. */
import type { CredentialChecks } from '../auth/credential-check.ts';
import type { MonitorAuthDeps } from '../auth/deps.ts';

/** A credential that just stopped working: app.ts closes the terminal sessions opened with it. */
export type EndedCredential = { jti: string } | { localAccount: string };

export interface AccountApiDeps {
  auth: MonitorAuthDeps;
  checks: CredentialChecks;
  /** Called after the change is stored: the terminals opened with that credential end too. */
  credentialEnded: (ended: EndedCredential) => void;
}
