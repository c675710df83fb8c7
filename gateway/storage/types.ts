import type { Generated, SqlBool } from 'kysely';

export type StorageDialect = 'sqlite' | 'postgres' | 'mysql';

// ---- tables (snake_case, as stored). Times are integer milliseconds since the epoch. ----

export interface AuthenticationLogTable {
  id: Generated<number>;
  time: number;
  successful: SqlBool;
  banned: SqlBool;
  username: string;
  auth_type: string;
  remote_ip: string;
  request_uri: string;
  request_method: string;
}

interface BanColumns {
  id: Generated<number>;
  time: number;
  /** null: until revoked */
  expires: number | null;
  /** when the ban was revoked, null while it stands */
  expired: number | null;
  revoked: SqlBool;
  source: string;
  reason: string | null;
}

export interface BannedUserTable extends BanColumns {
  username: string;
}

export interface BannedIpTable extends BanColumns {
  ip: string;
}

export interface EncryptionTable {
  name: string;
  value: string;
}

export interface AttemptReservationTable {
  id: Generated<number>;
  time: number;
  expires: number;
  username: string;
  remote_ip: string;
}

export interface SetupStateTable {
  name: string;
  completed_at: number;
}

export interface TotpConfigurationTable {
  id: Generated<number>;
  created_at: number;
  last_used_at: number | null;
  username: string;
  issuer: string;
  algorithm: string;
  digits: number;
  period: number;
  /** AES-256-GCM, bound to the username */
  secret: Buffer;
}

export interface TotpHistoryTable {
  id: Generated<number>;
  created_at: number;
  username: string;
  step: number;
}

export interface WebauthnUserTable {
  id: Generated<number>;
  username: string;
  user_handle: Buffer;
}

export interface WebauthnCredentialTable {
  id: Generated<number>;
  created_at: number;
  last_used_at: number | null;
  username: string;
  description: string;
  kid: string;
  aaguid: string | null;
  attestation_type: string;
  attachment: string;
  transport: string;
  sign_count: number;
  clone_warning: SqlBool;
  discoverable: SqlBool;
  present: SqlBool;
  verified: SqlBool;
  backup_eligible: SqlBool;
  backup_state: SqlBool;
  public_key: Buffer;
}

export interface RecoveryCodeTable {
  id: Generated<number>;
  created_at: number;
  username: string;
  code_hash: Buffer;
  used_at: number | null;
}

export interface IdentityVerificationTable {
  id: Generated<number>;
  jti: string;
  username: string;
  action: string;
  issued_at: number;
  issued_ip: string;
  expires_at: number;
  consumed_at: number | null;
  consumed_ip: string | null;
  revoked_at: number | null;
  revoked_ip: string | null;
}

export interface OneTimeCodeTable {
  id: Generated<number>;
  public_id: string;
  /** HMAC of the code under the lookup key */
  signature: Buffer;
  username: string;
  intent: string;
  issued_at: number;
  issued_ip: string;
  expires_at: number;
  consumed_at: number | null;
  consumed_ip: string | null;
  revoked_at: number | null;
  revoked_ip: string | null;
  /** AES-256-GCM, bound to public_id */
  code: Buffer;
}

export interface UserPreferenceTable {
  username: string;
  second_factor_method: string;
}

export interface UserSessionTable {
  id: Generated<number>;
  session_hash: string;
  username: string;
  created_at: number;
  last_seen_at: number;
  remote_ip: string;
  user_agent: string;
  /** the session id, AES-256-GCM sealed (userSessionIdAad); null for a row indexed before 0007 */
  session_id: Buffer | null;
}

export interface OidcPayloadTable {
  id: Generated<number>;
  model: string;
  /** the model's own id (oidc-provider's) */
  payload_id: string;
  /** the payload's JSON, AES-256-GCM sealed (oidcPayloadAad) */
  payload: Buffer;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  /** null: does not expire */
  expires_at: number | null;
  consumed_at: number | null;
  /** the payload's accountId (the subject), for ending every session of a user (0009) */
  account_id: string | null;
}

export interface OidcSessionLinkTable {
  id: Generated<number>;
  /** the random key kept in the gateway session's data */
  link_key: string;
  /** the oidc-provider Session's uid */
  session_uid: string;
  username: string;
  created_at: number;
}

export interface OidcSubjectTable {
  id: Generated<number>;
  username: string;
  subject: string;
  created_at: number;
}

export interface OidcConsentTable {
  id: Generated<number>;
  username: string;
  client_id: string;
  /** space-separated */
  scopes: string;
  /** JSON array of claim names */
  claims: string;
  granted_at: number;
  /** null: until revoked */
  expires_at: number | null;
  revoked_at: number | null;
}

export interface Database {
  authentication_logs: AuthenticationLogTable;
  attempt_reservations: AttemptReservationTable;
  banned_user: BannedUserTable;
  banned_ip: BannedIpTable;
  encryption: EncryptionTable;
  setup_state: SetupStateTable;
  totp_configurations: TotpConfigurationTable;
  totp_history: TotpHistoryTable;
  webauthn_users: WebauthnUserTable;
  webauthn_credentials: WebauthnCredentialTable;
  recovery_codes: RecoveryCodeTable;
  identity_verification: IdentityVerificationTable;
  one_time_codes: OneTimeCodeTable;
  user_preferences: UserPreferenceTable;
  user_sessions: UserSessionTable;
  oidc_payloads: OidcPayloadTable;
  oidc_subjects: OidcSubjectTable;
  oidc_consents: OidcConsentTable;
  oidc_session_links: OidcSessionLinkTable;
}

// ---- what the repository API takes and returns ----

/** `1fa` is the portal's password step; `basic` is `Authorization: Basic` on forward auth (also one factor). */
export type AuthenticationType = '1fa' | 'basic' | 'totp' | 'webauthn' | 'passkey' | 'recovery_code';

export interface AuthenticationAttempt {
  time: number;
  successful: boolean;
  /** the attempt was refused because a ban was in force */
  banned: boolean;
  username: string;
  authType: AuthenticationType;
  remoteIp: string;
  requestUri: string;
  requestMethod: string;
}

export interface AuthenticationLog extends AuthenticationAttempt {
  id: number;
}

export interface AuthenticationLogFilter {
  authTypes?: readonly AuthenticationType[];
  banned?: boolean;
}

export interface NewBan {
  time: number;
  /** null: until revoked */
  expires: number | null;
  /** who banned: `regulation`, `cli`, … */
  source: string;
  reason?: string | null;
}

export interface Ban {
  id: number;
  time: number;
  expires: number | null;
  expired: number | null;
  revoked: boolean;
  source: string;
  reason: string | null;
}

export interface UserBan extends Ban {
  username: string;
}

export interface IpBan extends Ban {
  ip: string;
}
