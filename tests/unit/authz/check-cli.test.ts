import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runAccessControlCheck } from '../../../gateway/authz/check-cli.ts';
import type { AccessControlConfig } from '../../../gateway/authz/rules.ts';

const cfg: AccessControlConfig = {
  default_policy: 'deny',
  networks: [{ name: 'lan', networks: ['192.168.0.0/16'] }],
  rules: [
    { domain: ['app.example.com'], resources: ['^/public/'], policy: 'bypass' },
    { domain: ['app.example.com'], subject: ['group:admins'], resources: ['^/admin'], policy: 'two_factor' },
    { domain: ['app.example.com'], networks: ['lan'], policy: 'one_factor' },
    { domain: ['*.example.com'], policy: 'two_factor' },
  ],
};

async function run(args: string[], config: AccessControlConfig = cfg, definitions: ReadonlyMap<string, readonly string[]> = new Map()): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => { out += c.toString(); });
  stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await runAccessControlCheck(args, { stdout, stderr }, config, definitions);
  stdout.end();
  stderr.end();
  await new Promise((resolve) => setImmediate(resolve));
  return { code, out, err };
}

describe('access-control check: prints each rule and the decision', () => {
  it('an admin on /admin gets two_factor from rule #2', async () => {
    const r = await run(['--url', 'https://app.example.com/admin/users', '--user', 'alice', '--groups', 'admins,dev']);
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    assert.match(r.out, /^Checking GET https:\/\/app\.example\.com\/admin\/users as user 'alice' groups 'admins,dev'\.$/m);
    assert.match(r.out, /path as matched '\/admin\/users'/);
    const rows = r.out.split('\n').filter((l) => /^[*~ ]\s+\d/.test(l));
    assert.equal(rows.length, 4);
    assert.match(rows[0] ?? '', /^\s+1\s+hit\s+miss\s+hit\s+hit\s+hit\s+hit\s+bypass$/);
    assert.match(rows[1] ?? '', /^\*\s+2\s+hit\s+hit\s+hit\s+hit\s+hit\s+hit\s+two_factor$/);
    assert.match(r.out, /First matching rule: #2 \(access_control\.rules\[1\]\)\./);
    assert.match(r.out, /\npolicy: two_factor \(rule #2\)\n$/);
  });

  it('anonymous: a subject rule shows "may" and login is required', async () => {
    const r = await run(['--url', 'https://app.example.com/admin']);
    assert.equal(r.code, 0);
    assert.match(r.out, /as anonymous\./);
    assert.match(r.out, /^\*\s+2\s+hit\s+hit\s+hit\s+hit\s+hit\s+may\s+two_factor$/m);
    assert.match(r.out, /logs in first/);
    assert.match(r.out, /policy: two_factor \(rule #2\)\n$/);
  });

  it('method and network criteria use --method and --ip', async () => {
    const r = await run(['--url', 'https://app.example.com/', '--user', 'bob', '--method', 'post', '--ip', '::ffff:192.168.4.2']);
    assert.match(r.out, /^Checking POST .* from ::ffff:192\.168\.4\.2\.$/m);
    assert.match(r.out, /^\*\s+3\s+hit\s+hit\s+hit\s+hit\s+hit\s+hit\s+one_factor$/m);
    assert.match(r.out, /policy: one_factor \(rule #3\)\n$/);
  });

  it('a network named in definitions.network matches as the gateway matches it', async () => {
    const office: AccessControlConfig = { default_policy: 'deny', networks: [], rules: [{ domain: ['app.example.com'], networks: ['office'], policy: 'one_factor' }] };
    const definitions = new Map([['office', ['203.0.113.0/24']]]);
    assert.match((await run(['--url', 'https://app.example.com/', '--ip', '203.0.113.9'], office, definitions)).out, /policy: one_factor \(rule #1\)\n$/);
    assert.match((await run(['--url', 'https://app.example.com/', '--ip', '198.51.100.9'], office, definitions)).out, /policy: deny/);
    const unknown = await run(['--url', 'https://app.example.com/'], office);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /the network 'office' is not a valid Group Name, IP, or CIDR notation/);
  });

  it('the path is normalised as the gateway does before rules see it', async () => {
    const r = await run(['--url', 'https://app.example.com//%61dmin', '--user', 'bob']);
    assert.match(r.out, /path as matched '\/admin'/);
    assert.doesNotMatch(r.out, /policy: bypass/);
  });

  it('dot segments are denied, not resolved, as the gateway does', async () => {
    const r = await run(['--url', 'https://app.example.com/public/%2e%2e/admin', '--user', 'bob']);
    assert.match(r.out, /policy: deny \(malformed path\)\n$/);
  });

  it('an ambiguous path is reported as denied', async () => {
    const r = await run(['--url', 'https://app.example.com/public/..;/admin']);
    assert.equal(r.code, 0);
    assert.match(r.out, /policy: deny \(malformed path\)\n$/);
  });

  it('no matching rule: the default policy', async () => {
    const r = await run(['--url', 'https://example.com/', '--user', 'bob']);
    assert.match(r.out, /No rule matched\.\npolicy: deny \(default policy\)\n$/);
  });

  it('no rules at all: the default policy for everything', async () => {
    const r = await run(['--url', 'https://example.com/'], { default_policy: 'one_factor', networks: [], rules: [] });
    assert.match(r.out, /policy: one_factor \(default policy\)\n$/);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Usage: gatehouse access-control check --url URL/);
  });
});

describe('access-control check: usage and configuration errors exit 2', () => {
  const bad: [string, string[], RegExp][] = [
    ['missing --url', [], /option '--url' is required/],
    ['unknown option', ['--url', 'https://a.example.com/', '--username', 'x'], /Unknown option '--username'/],
    ['relative URL', ['--url', '/admin'], /is not an absolute URL/],
    ['bad method', ['--url', 'https://a.example.com/', '--method', 'GE T'], /is not an HTTP method/],
    ['bad IP', ['--url', 'https://a.example.com/', '--ip', '10.0.0'], /is not an IP address/],
    ['positional argument', ['https://a.example.com/'], /positional/i],
  ];
  for (const [name, args, message] of bad) {
    it(name, async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, message);
      assert.match(r.err, /Usage:/);
    });
  }

  it('an invalid access_control section prints its problems', async () => {
    const r = await run(['--url', 'https://a.example.com/'], { default_policy: 'deny', networks: [], rules: [] });
    assert.equal(r.code, 2);
    assert.match(r.err, /access_control: 'default_policy' option 'deny' is invalid/);
  });
});

describe('access-control check --client: an OAuth 2.0 client speaking for itself', () => {
  const clientCfg: AccessControlConfig = {
    default_policy: 'deny',
    networks: [],
    rules: [
      { domain: ['app.example.com'], subject: ['user:scripts'], policy: 'two_factor' },
      { domain: ['app.example.com'], subject: ['oauth2:client:scripts'], policy: 'one_factor' },
    ],
  };

  it("matches the client's oauth2:client: rule, never the user rule of the same name", async () => {
    const r = await run(['--url', 'https://app.example.com/', '--client', 'scripts'], clientCfg);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /as client 'scripts'\./);
    assert.match(r.out, /policy: one_factor \(rule #2\)\n$/);
  });

  it('cannot be combined with --user or --groups, nor be empty', async () => {
    for (const args of [['--client', 'scripts', '--user', 'alice'], ['--client', 'scripts', '--groups', 'admins'], ['--client', ' ']]) {
      const r = await run(['--url', 'https://app.example.com/', ...args], clientCfg);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /^error: option '--client'/);
    }
  });
});
