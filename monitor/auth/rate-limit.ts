/**
 * Sliding-window limits on failed credential attempts, per client address and per username, shared by
 * every endpoint that takes a credential. In memory (the monitor is one process) and bounded: each
 * key keeps at most `max` timestamps, and past `maxKeys` the least recently touched key goes.
 */

export interface WindowRule {
  /** Failures allowed inside the window. */
  max: number;
  windowMs: number;
}

export interface RateLimitOptions {
  perIp?: WindowRule;
  perUser?: WindowRule;
  maxKeys?: number;
  now?: () => number;
}

export interface RateLimitSubject {
  ip: string;
  /** Omitted when the attempt names no user (e.g. setup). */
  user?: string | null;
}

export type RateLimitDecision = { limited: false } | { limited: true; retryAfterSeconds: number; by: 'ip' | 'user' };

export interface RateLimiter {
  /** Whether this subject must wait before trying again. */
  check(subject: RateLimitSubject): RateLimitDecision;
  /** Count a failed attempt. */
  fail(subject: RateLimitSubject): void;
}

export const DEFAULT_PER_IP: WindowRule = { max: 10, windowMs: 5 * 60_000 };
export const DEFAULT_PER_USER: WindowRule = { max: 20, windowMs: 15 * 60_000 };
const DEFAULT_MAX_KEYS = 10_000;

export function createRateLimiter(options: RateLimitOptions = {}): RateLimiter {
  const perIp = options.perIp ?? DEFAULT_PER_IP;
  const perUser = options.perUser ?? DEFAULT_PER_USER;
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const now = options.now ?? Date.now;
  // Map order is insertion order; re-inserting on use makes the first key the least recently used
  const failures = new Map<string, number[]>();

  const keysOf = (s: RateLimitSubject): { key: string; rule: WindowRule; by: 'ip' | 'user' }[] => {
    const keys: { key: string; rule: WindowRule; by: 'ip' | 'user' }[] = [{ key: `ip:${s.ip}`, rule: perIp, by: 'ip' }];
    // usernames are compared case-insensitively so `Admin` and `admin` share a budget
    if (s.user) keys.push({ key: `user:${s.user.toLowerCase().slice(0, 256)}`, rule: perUser, by: 'user' });
    return keys;
  };

  const recent = (key: string, rule: WindowRule, at: number): number[] => {
    const list = failures.get(key);
    if (!list) return [];
    const kept = list.filter((t) => t > at - rule.windowMs);
    if (kept.length === 0) failures.delete(key);
    else if (kept.length !== list.length) failures.set(key, kept);
    return kept;
  };

  return {
    check(subject) {
      const at = now();
      let worst: RateLimitDecision = { limited: false };
      for (const { key, rule, by } of keysOf(subject)) {
        const list = recent(key, rule, at);
        if (list.length < rule.max) continue;
        // the window frees a slot when the oldest failure that still counts leaves it
        const oldestCounting = list[list.length - rule.max]!;
        const retryAfterSeconds = Math.max(1, Math.ceil((oldestCounting + rule.windowMs - at) / 1000));
        if (!worst.limited || retryAfterSeconds > worst.retryAfterSeconds) worst = { limited: true, retryAfterSeconds, by };
      }
      return worst;
    },
    fail(subject) {
      const at = now();
      for (const { key, rule } of keysOf(subject)) {
        const list = recent(key, rule, at);
        list.push(at);
        failures.delete(key);
        failures.set(key, list.slice(-rule.max));
        while (failures.size > maxKeys) failures.delete(failures.keys().next().value!);
      }
    },
  };
}
