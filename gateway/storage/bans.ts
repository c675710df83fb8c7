/** `banned_user` and `banned_ip`: bans by the regulator or an operator, kept on record after they end. */
import type { Kysely, SqlBool } from 'kysely';
import { fromSqlBool, type DatabaseHandle } from './handle.ts';
import type { Ban, IpBan, NewBan, UserBan } from './types.ts';
import { insertReturningRow } from './upsert.ts';

export interface BanRepository {
  banUser(ban: NewBan & { username: string }): Promise<UserBan>;
  /** The ban in force for `username` at `nowMs` (the longest if several), or undefined. */
  activeUserBan(username: string, nowMs: number): Promise<UserBan | undefined>;
  /** Revokes every ban in force for `username`; returns how many. */
  revokeUserBan(username: string, nowMs: number): Promise<number>;
  /** Every ban in force at `nowMs`, newest first. */
  listUserBans(nowMs: number): Promise<UserBan[]>;
  /** When a ban of `username` was last revoked, or undefined: the failures before it no longer count. */
  lastUserRevocation(username: string): Promise<number | undefined>;
  banIp(ban: NewBan & { ip: string }): Promise<IpBan>;
  activeIpBan(ip: string, nowMs: number): Promise<IpBan | undefined>;
  revokeIpBan(ip: string, nowMs: number): Promise<number>;
  listIpBans(nowMs: number): Promise<IpBan[]>;
  lastIpRevocation(ip: string): Promise<number | undefined>;
}

type BanTarget = { table: 'banned_user'; subject: 'username' } | { table: 'banned_ip'; subject: 'ip' };
const USER_BANS: BanTarget = { table: 'banned_user', subject: 'username' };
const IP_BANS: BanTarget = { table: 'banned_ip', subject: 'ip' };

function toBan(row: Record<string, unknown>): Ban {
  return {
    id: Number(row.id),
    time: Number(row.time),
    expires: row.expires === null ? null : Number(row.expires),
    expired: row.expired === null ? null : Number(row.expired),
    revoked: fromSqlBool(row.revoked as SqlBool),
    source: String(row.source),
    reason: row.reason === null ? null : String(row.reason),
  };
}

const toUserBan = (row: Record<string, unknown>): UserBan => ({ ...toBan(row), username: String(row.username) });
const toIpBan = (row: Record<string, unknown>): IpBan => ({ ...toBan(row), ip: String(row.ip) });

/** The ban that lasts longest: one until revoked, else the latest expiry. */
function longest<B extends Ban>(bans: B[]): B | undefined {
  return bans.reduce<B | undefined>((best, ban) => {
    if (!best) return ban;
    if (best.expires === null) return best;
    if (ban.expires === null || ban.expires > best.expires) return ban;
    return best;
  }, undefined);
}

export function banRepository(handle: DatabaseHandle): BanRepository {
  // Both ban tables share every column but the subject (`username` or `ip`); one untyped query
  // serves both, and toBan() gives the rows their types back.
  const run = <T>(action: string, work: (db: Kysely<any>) => Promise<T>) => handle.run(action, work);

  const insert = (target: BanTarget, subject: string, ban: NewBan) =>
    run(`ban ${target.subject === 'ip' ? 'an IP address' : 'a user'}`, (db) =>
      insertReturningRow(db, handle.dialect, target.table, {
        time: ban.time,
        expires: ban.expires,
        expired: null,
        revoked: handle.bool(false),
        [target.subject]: subject,
        source: ban.source,
        reason: ban.reason ?? null,
      }),
    );

  const active = (target: BanTarget, nowMs: number, subject?: string) =>
    run('load bans', (db) => {
      let query = db
        .selectFrom(target.table)
        .selectAll()
        .where('revoked', '=', handle.bool(false))
        .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', nowMs)]));
      if (subject !== undefined) query = query.where(target.subject, '=', subject);
      return query.orderBy('time', 'desc').orderBy('id', 'desc').execute() as Promise<Record<string, unknown>[]>;
    });

  const revoke = (target: BanTarget, subject: string, nowMs: number) =>
    run('revoke a ban', async (db) => {
      const result = await db
        .updateTable(target.table)
        .set({ revoked: handle.bool(true), expired: nowMs })
        .where(target.subject, '=', subject)
        .where('revoked', '=', handle.bool(false))
        .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', nowMs)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });

  const lastRevocation = (target: BanTarget, subject: string) =>
    run('load bans', async (db) => {
      const row = await db
        .selectFrom(target.table)
        .select((eb) => eb.fn.max('expired').as('revokedAt'))
        .where(target.subject, '=', subject)
        .where('revoked', '=', handle.bool(true))
        .executeTakeFirst();
      return row?.revokedAt === null || row?.revokedAt === undefined ? undefined : Number(row.revokedAt);
    });

  return {
    banUser: (ban) => insert(USER_BANS, ban.username, ban).then(toUserBan),
    activeUserBan: (username, nowMs) => active(USER_BANS, nowMs, username).then((rows) => longest(rows.map(toUserBan))),
    revokeUserBan: (username, nowMs) => revoke(USER_BANS, username, nowMs),
    listUserBans: (nowMs) => active(USER_BANS, nowMs).then((rows) => rows.map(toUserBan)),
    lastUserRevocation: (username) => lastRevocation(USER_BANS, username),
    banIp: (ban) => insert(IP_BANS, ban.ip, ban).then(toIpBan),
    activeIpBan: (ip, nowMs) => active(IP_BANS, nowMs, ip).then((rows) => longest(rows.map(toIpBan))),
    revokeIpBan: (ip, nowMs) => revoke(IP_BANS, ip, nowMs),
    listIpBans: (nowMs) => active(IP_BANS, nowMs).then((rows) => rows.map(toIpBan)),
    lastIpRevocation: (ip) => lastRevocation(IP_BANS, ip),
  };
}
