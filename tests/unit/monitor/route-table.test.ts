// The monitor's route table as data: one row per method and path, each with a guard from the closed
// set, and the rules the zones rely on checked before a monitor starts (a bad table never serves).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRouteTable } from '../../../lib/route-table.ts';
import { assertMonitorTable, describeMonitorRoutes, GUARD_MEANING, MONITOR_GUARDS, MONITOR_ROUTES, type MonitorRoute } from '../../../monitor/routes.ts';

describe('the monitor route table', () => {
  it('has no two rows for one method and path', () => {
    const keys = describeMonitorRoutes().map((row) => `${row.method} ${row.path}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('names a guard from the closed set on every row, and every guard is described', () => {
    for (const row of describeMonitorRoutes()) assert.ok((MONITOR_GUARDS as readonly string[]).includes(row.guard), `${row.method} ${row.path}: ${row.guard}`);
    assert.deepEqual(Object.keys(GUARD_MEANING).sort(), [...MONITOR_GUARDS].sort());
  });

  it('passes its own checks, and is described without a running monitor', () => {
    assert.doesNotThrow(() => assertMonitorTable(MONITOR_ROUTES));
    const text = formatRouteTable('monitor', describeMonitorRoutes());
    assert.match(text, /^WS +\/ws\/terminal +TICKET +-$/m);
    assert.match(text, /^POST +\/api\/auth\/login +PUBLIC +credential failures, password checks$/m);
  });

  it('keeps the public API to status, login, system-info and health; the terminal behind ADMIN and TICKET', () => {
    const open = describeMonitorRoutes().filter((row) => row.guard === 'PUBLIC' && row.path.startsWith('/api/'));
    assert.deepEqual(open.map((row) => `${row.method} ${row.path}`).sort(), ['GET /api/auth/status', 'GET /api/health', 'GET /api/system-info', 'POST /api/auth/login']);
    const terminal = describeMonitorRoutes().filter((row) => row.path.includes('terminal'));
    assert.deepEqual(terminal.map((row) => `${row.method} ${row.path} ${row.guard}`), ['POST /api/terminal/ticket ADMIN', 'POST /api/terminal/renew ADMIN', 'WS /ws/terminal TICKET']);
  });
});

describe('a table that breaks a rule is refused when the routes are built', () => {
  const handler = () => () => undefined;
  const refused: [string, MonitorRoute[], RegExp][] = [
    ['a method and path twice', [{ method: 'GET', path: '/api/a', guard: 'READ', handler }, { method: 'GET', path: '/api/a', guard: 'ADMIN', handler }], /GET \/api\/a appears twice/],
    ['a guard outside the set', [{ method: 'GET', path: '/api/a', guard: 'OPEN' as 'READ', handler }], /unknown guard OPEN/],
    ['a READ row that changes something', [{ method: 'POST', path: '/api/a', guard: 'READ', handler }], /READ rows are GET/],
    ['a prefix for files under /api', [{ method: 'GET', path: '/api/files/*', guard: 'PUBLIC', files: handler }], /never under \/api or \/ws/],
    ['an API row outside /api', [{ method: 'GET', path: '/apiary' as '/api/x', guard: 'READ', handler }], /one exact path under \/api/],
    ['a WebSocket row without TICKET', [{ method: 'WS', path: '/ws/x', guard: 'PUBLIC' as 'TICKET', handler: () => () => undefined }], /under \/ws behind TICKET/],
    ['a parameter row that also answers a listed path', [{ method: 'GET', path: '/api/tokens/:id', guard: 'READ', handler }, { method: 'GET', path: '/api/tokens/mine', guard: 'PUBLIC', handler }], /\/api\/tokens\/:id also answers \/api\/tokens\/mine/],
  ];
  for (const [what, rows, message] of refused) {
    it(what, () => assert.throws(() => assertMonitorTable(rows), message));
  }
});
