// The dashboard without JavaScript says so instead of "Loading…" forever, and the CSP that allows
// no inline script or style is kept while doing it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

describe('the served dashboard without JavaScript', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  before(async () => {
    const temp = await makeTempDir('gatehouse-monitor-noscript-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir });
    monitor = await startMonitor(config, { logger: captureLogs().logger, argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
  });
  after(async () => {
    await monitor.close();
    await cleanup();
  });

  it('index.html has a <noscript> message saying JavaScript is needed, and a stylesheet that hides "Loading…"', async () => {
    const reply = await request(`${monitor.url}/`);
    assert.equal(reply.status, 200);
    const noscript = [...reply.body.matchAll(/<noscript>([\s\S]*?)<\/noscript>/g)].map((m) => m[1]!);
    assert.ok(noscript.some((text) => text.includes('This dashboard needs JavaScript')), 'the message is in a <noscript>');
    assert.ok(noscript.some((text) => text.includes('<link rel="stylesheet" href="/noscript.css">')));
    const css = await request(`${monitor.url}/noscript.css`);
    assert.equal(css.status, 200);
    assert.match(css.body, /#view-loading\s*\{\s*display:\s*none;\s*\}/);
  });

  it('keeps the CSP: scripts and styles from this host only, and the page has no inline script or style', async () => {
    const reply = await request(`${monitor.url}/`);
    const csp = String(reply.headers['content-security-policy']);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /style-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.doesNotMatch(reply.body, /<script(?![^>]*\ssrc=)[^>]*>/, 'every <script> has a src');
    assert.doesNotMatch(reply.body, /<style|\sstyle=/, 'no inline style');
  });
});
