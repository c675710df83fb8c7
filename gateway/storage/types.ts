import type { Generated, SqlBool } from 'kysely';

export type StorageDialect = 'sqlite' | 'postgres';

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

export interface Database {
  authentication_logs: AuthenticationLogTable;
  attempt_reservations: AttemptReservationTable;
  banned_user: BannedUserTable;
  banned_ip: BannedIpTable;
  encryption: EncryptionTable;
  setup_state: SetupStateTable;
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
