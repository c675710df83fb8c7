/**
 * Sliding-window limits on failed credential attempts, per client address (an IPv6 client by its /64)
 * and per username, shared by every endpoint that takes a credential. In memory (the monitor is one
 * process) and bounded: each key keeps at most `max` timestamps, each kind at most `maxKeys` keys, and
 * only keys under their limit are ever forgotten to make room (a lock-out is never evicted).
 */
import { clientKey } from './net/address.ts';

export interface WindowRule {
  /** Failures allowed inside the window. */
  max: number;
  windowMs: number;
}

export interface RateLimitOptions {
  perIp?: WindowRule;
  perUser?: WindowRule;
  /** Keys kept per kind (addresses, usernames). */
  maxKeys?: number;
  now?: () => number;
}

export interface RateLimitSubject {
  ip: string;
  /** Omitted when the attempt names no user (e.g. setup). */
  user?: string | null;
}

export type RateLimitDecision = { limited: false } | { limited: true; retryAfterSeconds: number; by: 'ip' | 'user' };

/** An attempt counted before it is checked; release() un-counts it once it turned out right. */
export type RateLimitAttempt = { limited: false; release(): void } | Extract<RateLimitDecision, { limited: true }>;

export interface RateLimiter {
  /** Whether this subject must wait before trying again. */
  check(subject: RateLimitSubject): RateLimitDecision;
  /** Count a failed attempt. */
  fail(subject: RateLimitSubject): void;
  /**
   * Check and count in one step, before a slow credential check: the attempt counts as a failure
   * until released, so parallel attempts cannot all pass the check.
   */
  reserve(subject: RateLimitSubject): RateLimitAttempt;
  /** Keys held (tests). */
  size(): number;
}

const DEFAULT_PER_IP: WindowRule = { max: 10, windowMs: 5 * 60_000 };
const DEFAULT_PER_USER: WindowRule = { max: 20, windowMs: 15 * 60_000 };
const DEFAULT_MAX_KEYS = 10_000;

interface Table {
  by: 'ip' | 'user';
  rule: WindowRule;
  /** Map order is insertion order; re-inserting on use makes the first key the least recently used. */
  failures: Map<string, number[]>;
  /** While the table is full of locked-out keys: when the first of them frees up (no scan before). */
  fullUntil: number;
}

export function createRateLimiter(options: RateLimitOptions = {}): RateLimiter {
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const now = options.now ?? Date.now;
  const ips: Table = { by: 'ip', rule: options.perIp ?? DEFAULT_PER_IP, failures: new Map(), fullUntil: 0 };
  const users: Table = { by: 'user', rule: options.perUser ?? DEFAULT_PER_USER, failures: new Map(), fullUntil: 0 };

  const keysOf = (s: RateLimitSubject): { table: Table; key: string }[] => {
    const keys = [{ table: ips, key: clientKey(s.ip) }];
    // usernames are compared case-insensitively so `Admin` and `admin` share a budget
    if (s.user) keys.push({ table: users, key: s.user.toLowerCase().slice(0, 256) });
    return keys;
  };

  const window = (list: number[], rule: WindowRule, at: number): number[] => list.filter((t) => t > at - rule.windowMs);

  const recent = (table: Table, key: string, at: number): number[] => {
    const list = table.failures.get(key);
    if (!list) return [];
    const kept = window(list, table.rule, at);
    if (kept.length === 0) table.failures.delete(key);
    else if (kept.length !== list.length) table.failures.set(key, kept);
    return kept;
  };

  /** Room for `key`: true when it is held or a key under its limit could go; never evicts a lock-out. */
  const roomFor = (table: Table, key: string, at: number): boolean => {
    if (table.failures.has(key) || table.failures.size < maxKeys) return true;
    if (at < table.fullUntil) return false;
    let frees = Infinity;
    for (const [other, list] of table.failures) {
      const kept = window(list, table.rule, at);
      if (kept.length < table.rule.max) {
        table.failures.delete(other);
        return true;
      }
      frees = Math.min(frees, kept[kept.length - table.rule.max]! + table.rule.windowMs);
    }
    // every key is locked out: new keys are refused (fail closed) until the first lock-out ends
    table.fullUntil = frees;
    return false;
  };

  const retryAfter = (until: number, at: number) => Math.max(1, Math.ceil((until - at) / 1000));

  const check = (subject: RateLimitSubject): RateLimitDecision => {
    const at = now();
    let worst: RateLimitDecision = { limited: false };
    const worse = (retryAfterSeconds: number, by: 'ip' | 'user') => {
      if (!worst.limited || retryAfterSeconds > worst.retryAfterSeconds) worst = { limited: true, retryAfterSeconds, by };
    };
    for (const { table, key } of keysOf(subject)) {
      const { rule } = table;
      const list = recent(table, key, at);
      if (list.length >= rule.max) {
        // the window frees a slot when the oldest failure that still counts leaves it
        worse(retryAfter(list[list.length - rule.max]! + rule.windowMs, at), table.by);
      } else if (!roomFor(table, key, at)) {
        worse(retryAfter(table.fullUntil, at), table.by);
      }
    }
    return worst;
  };

  const count = (subject: RateLimitSubject, at: number): (() => void) => {
    const counted: { table: Table; key: string }[] = [];
    for (const { table, key } of keysOf(subject)) {
      if (!roomFor(table, key, at)) continue; // full of lock-outs: check() refuses this key anyway
      const list = recent(table, key, at);
      list.push(at);
      table.failures.delete(key);
      table.failures.set(key, list.slice(-table.rule.max));
      counted.push({ table, key });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const { table, key } of counted) {
        const list = table.failures.get(key);
        const index = list?.lastIndexOf(at) ?? -1;
        if (!list || index === -1) continue;
        list.splice(index, 1);
        if (list.length === 0) table.failures.delete(key);
        table.fullUntil = 0; // a key may be under its limit again
      }
    };
  };

  return {
    check,
    fail(subject) {
      count(subject, now());
    },
    reserve(subject) {
      // no await between the check and the count: the two are one step for concurrent requests
      const decision = check(subject);
      if (decision.limited) return decision;
      return { limited: false, release: count(subject, now()) };
    },
    size: () => ips.failures.size + users.failures.size,
  };
}
