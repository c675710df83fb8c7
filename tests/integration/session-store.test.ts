/**
 * The session store against a real Redis and in memory: sessions are encrypted at rest, an activity
 * refresh never brings back a destroyed session, and a broken or foreign value reads as no session.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SessionData } from 'express-session';
import { pino } from 'pino';
import { openSessionStore, SESSION_KEY_PREFIX, type SessionStore } from '../../gateway/session/store.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const run = promisify(execFile);
const logger = pino({ level: 'silent' });
const SECRET = 'a session secret for the store tests';

function sessionData(expiresInMs = 60_000, sid = 'sid'): SessionData {
  const expiresAt = Date.now() + expiresInMs;
  return {
    cookie: { originalMaxAge: expiresInMs, expires: new Date(expiresAt) } as SessionData['cookie'],
    identity: { username: 'alice', displayName: 'Alice', emails: ['alice@example.test'], groups: ['dev'] },
    amr: ['pwd'],
    firstFactorAt: Date.now(),
    secondFactorAt: 0,
    expiresAt,
    keepMeLoggedIn: false,
    lastActivity: Date.now(),
    cookieDomain: 'example.test',
    sid,
    credentialStamp: 'stamp',
  };
}

describe('Redis session store', () => {
  let redis: RedisServer;
  let store: SessionStore;
  const cli = (...args: string[]) => run(requireBinary('redis-cli', 'redis-server'), ['-p', String(redis.port), ...args]).then((r) => r.stdout.trim());

  before(async () => {
    redis = await startRedis();
    store = await openSessionStore({ host: '127.0.0.1', port: redis.port, database_index: 0, maximum_active_connections: 8, minimum_idle_connections: 0, timeout: 5, command_timeout: 500 }, SECRET, logger);
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('stores sessions encrypted: the username is not readable in Redis', async () => {
    await store.set('sid-encrypted', sessionData());
    const raw = await cli('GET', `${SESSION_KEY_PREFIX}sid-encrypted`);
    assert.ok(raw.startsWith('g1.'), raw);
    assert.doesNotMatch(raw, /alice/);
    assert.equal((await store.get('sid-encrypted'))?.identity?.username, 'alice');
  });

  it('expires the key with the session', async () => {
    await store.set('sid-ttl', sessionData(30_000));
    const ttl = Number(await cli('PTTL', `${SESSION_KEY_PREFIX}sid-ttl`));
    assert.ok(ttl > 25_000 && ttl <= 30_000, `ttl ${ttl}`);
  });

  it('expires the key with the session when its cookie is a browser-session one (no cookie expiry)', async () => {
    const data = sessionData(40_000);
    data.cookie = { originalMaxAge: null } as SessionData['cookie'];
    await store.set('sid-browser-session', data);
    const ttl = Number(await cli('PTTL', `${SESSION_KEY_PREFIX}sid-browser-session`));
    assert.ok(ttl > 35_000 && ttl <= 40_000, `ttl ${ttl}`);
  });

  it('a value written by someone without the secret is no session, not a login', async () => {
    await cli('SET', `${SESSION_KEY_PREFIX}sid-forged`, JSON.stringify(sessionData()));
    assert.equal(await store.get('sid-forged'), null);
    await cli('SET', `${SESSION_KEY_PREFIX}sid-tampered`, 'g1.' + Buffer.alloc(64, 7).toString('base64'));
    assert.equal(await store.get('sid-tampered'), null);
  });

  it('an activity refresh after a destroy does not resurrect the session', async () => {
    const data = sessionData();
    await store.set('sid-logout', data);
    await store.destroy('sid-logout');
    await store.refresh('sid-logout', { ...data, lastActivity: Date.now() });
    assert.equal(await cli('EXISTS', `${SESSION_KEY_PREFIX}sid-logout`), '0');
    assert.equal(await store.get('sid-logout'), null);
  });

  it('an activity refresh of a live session is stored', async () => {
    const data = sessionData();
    await store.set('sid-live', data);
    await store.refresh('sid-live', { ...data, lastActivity: 12345 });
    assert.equal((await store.get('sid-live'))?.lastActivity, 12345);
  });
});

describe('memory session store', () => {
  let store: SessionStore;
  before(async () => {
    store = await openSessionStore(undefined, SECRET, logger);
  });

  it('an activity refresh after a destroy does not resurrect the session', async () => {
    const data = sessionData();
    await store.set('sid-logout', data);
    assert.equal((await store.get('sid-logout'))?.identity?.username, 'alice');
    await store.destroy('sid-logout');
    await store.refresh('sid-logout', data);
    assert.equal(await store.get('sid-logout'), null);
  });

  it('a write evicts the cached copy at once', async () => {
    await store.set('sid-cache', sessionData());
    assert.equal((await store.get('sid-cache'))?.lastActivity !== 1, true);
    await store.set('sid-cache', { ...sessionData(), lastActivity: 1 });
    assert.equal((await store.get('sid-cache'))?.lastActivity, 1);
  });
});
