/**
 * `gatehouse access-control check`: which rule a request meets and what it requires, criterion by
 * criterion (the counterpart of `authelia access-control check-policy --verbose`).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../lib/errors.ts';
import { normalisePath } from './path.ts';
import { compileAccessControl } from './rules.ts';
import type { NamedNetworks } from '../config/definitions.ts';
import type { AccessControlConfig, AccessSubject, RuleCheck } from './rules.ts';

export interface CheckIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

const USAGE = `Usage: gatehouse access-control check --url URL [options]

Shows each access_control rule, which of its criteria the request meets, and the policy applied.

Options:
  --url URL        the requested URL, e.g. https://app.example.com/admin?x=1 (required)
  --user NAME      the logged-in user (omit to check an anonymous request)
  --groups A,B     the user's groups, comma-separated
  --client ID      an OAuth 2.0 client's own token (client_credentials; 'oauth2:client:' subjects), instead of a user
  --method VERB    the HTTP method (default GET)
  --ip ADDRESS     the client address, for 'networks' criteria
  --help           show this help
`;

const METHOD = /^[A-Za-z]{1,16}$/;
const SCHEME_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

function usageError(io: CheckIo, message: string): number {
  io.stderr.write(`error: ${message}\n\n${USAGE}`);
  return 2;
}

function mark(ok: boolean): string {
  return ok ? 'hit' : 'miss';
}

/**
 * Runs the command; resolves to the exit code (0 done, 2 usage or configuration error).
 * `definitions`: the network names of `definitions.network`, which the rules may name.
 */
export async function runAccessControlCheck(args: string[], io: CheckIo, cfg: AccessControlConfig, definitions: NamedNetworks = new Map()): Promise<number> {
  let values: { url?: string; user?: string; groups?: string; client?: string; method?: string; ip?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        user: { type: 'string' },
        groups: { type: 'string' },
        client: { type: 'string' },
        method: { type: 'string', default: 'GET' },
        ip: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!values.url) return usageError(io, "option '--url' is required");
  // a client token speaks for the client alone: never a user, never groups
  if (values.client !== undefined && (values.user !== undefined || values.groups !== undefined)) return usageError(io, "option '--client' cannot be combined with '--user' or '--groups'");
  if (values.client !== undefined && values.client.trim() === '') return usageError(io, "option '--client' needs a client id");
  const method = values.method ?? 'GET';
  if (!METHOD.test(method)) return usageError(io, `option '--method' value '${method}' is not an HTTP method`);
  if (values.ip !== undefined && isIP(values.ip) === 0) {
    return usageError(io, `option '--ip' value '${values.ip}' is not an IP address`);
  }

  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    return usageError(io, `option '--url' value '${values.url}' is not an absolute URL`);
  }
  // the rules see the path as the proxy sends it, before WHATWG URL rewrites `\` or dot segments
  let rawPath = values.url.replace(SCHEME_AUTHORITY, '');
  const hash = rawPath.indexOf('#');
  if (hash !== -1) rawPath = rawPath.slice(0, hash);
  if (rawPath === '' || rawPath.startsWith('?')) rawPath = '/' + rawPath;

  let authorizer;
  try {
    authorizer = compileAccessControl(cfg, definitions);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`${err.problems.join('\n')}\n`);
    return 2;
  }

  const groups = (values.groups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
  const subject: AccessSubject | null = values.client !== undefined
    ? { groups: [], clientId: values.client.trim() }
    : values.user || groups.length !== 0
      ? { username: values.user || undefined, groups }
      : null;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const verb = method.toUpperCase();
  const out = io.stdout;

  let who = subject === null ? 'anonymous' : subject.clientId !== undefined ? `client '${subject.clientId}'` : `user '${subject.username ?? ''}'`;
  if (groups.length !== 0) who += ` groups '${groups.join(',')}'`;
  out.write(`Checking ${verb} ${values.url} as ${who}${values.ip ? ` from ${values.ip}` : ''}.\n`);

  const path = normalisePath(rawPath);
  if (path === null) {
    out.write(`\nThe path '${rawPath}' is malformed or ambiguous ('.'/'..' segments, encoded '/', '\\', ';', control characters, double encoding); the gateway denies it before any rule.\npolicy: deny (malformed path)\n`);
    return 0;
  }
  out.write(`Host '${host}', path as matched '${path}'.\n\n`);

  const request = { host, path, method: verb, ip: values.ip };
  const checks = authorizer.explain(request, subject);
  const decision = authorizer.evaluate(request, subject);

  if (checks.length === 0) {
    out.write(`No rules are configured: the default policy applies to every request.\npolicy: ${decision.policy} (default policy)\n`);
    return 0;
  }

  const header = ['', '#', 'domain', 'resources', 'query', 'methods', 'networks', 'subject', 'policy'];
  const rows = checks.map((c: RuleCheck) => [
    c.rule === decision.rule ? '*' : c.matched ? '~' : '',
    String(c.rule + 1),
    mark(c.domain), mark(c.resources), mark(c.query), mark(c.methods), mark(c.networks), c.subjects, c.policy,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows]) {
    out.write(`${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`);
  }
  out.write(`\n* the rule applied; 'may': the rule names users or groups, so an anonymous visitor matches it and is asked to log in.\n\n`);

  if (decision.rule === -1) {
    out.write('No rule matched.\n');
    out.write(`policy: ${decision.policy} (default policy)\n`);
    return 0;
  }
  out.write(`First matching rule: #${decision.rule + 1} (access_control.rules[${decision.rule}]).\n`);
  if (subject === null && decision.hasSubjects && decision.policy !== 'bypass') {
    out.write('The request is anonymous and this rule names users or groups: the visitor logs in first, then the rules are evaluated again with their identity.\n');
  }
  out.write(`policy: ${decision.policy} (rule #${decision.rule + 1})\n`);
  return 0;
}
