import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startService } from './processes.ts';

const run = promisify(execFile);

export interface StartCaddyOptions {
  /**
   * Site blocks (and snippets) of a Caddyfile, without a global options block: the helper writes
   * its own first so Caddy never binds :80, never runs ACME, never installs a CA into the system
   * trust store and has no admin endpoint. Sites must bring their own `tls <cert> <key>`.
   */
  caddyfile: string;
  /** A private directory for the Caddyfile, Caddy's storage, XDG dirs and HOME (the caller removes it). */
  dir: string;
  /** Ports to wait for; default: every `:<port>` in the site addresses. */
  ports?: number[];
}

export interface CaddyServer {
  readonly ports: number[];
  readonly pid: number;
  readonly caddyfilePath: string;
  /** Caddy's log (stderr, JSON lines) so far. */
  output(): string;
  stop(): Promise<void>;
}

function sitePorts(caddyfile: string): number[] {
  const ports = new Set<number>();
  let depth = 0;
  for (const line of caddyfile.split('\n')) {
    const code = line.replace(/#.*$/, '');
    // A site block opens at depth 0 (a snippet `(name) {` is not a site).
    if (depth === 0 && /\{\s*$/.test(code) && !/^\s*\(/.test(code)) {
      for (const address of code.replace(/\{\s*$/, '').split(/[\s,]+/).filter(Boolean)) {
        const hostPort = address.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
        const match = /:(\d+)$/.exec(hostPort);
        if (match) ports.add(Number(match[1]));
      }
    }
    for (const char of code) {
      if (char === '{') depth++;
      else if (char === '}') depth--;
    }
  }
  return [...ports];
}

// Caddy keeps state under HOME and the XDG directories; keep it all inside the test's directory.
async function caddyEnvironment(dir: string): Promise<NodeJS.ProcessEnv> {
  for (const sub of ['data', 'config', 'home', 'storage']) await mkdir(join(dir, sub), { recursive: true });
  return { ...process.env, HOME: join(dir, 'home'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
}

/**
 * `caddy validate` on a complete Caddyfile (as users would run it): parses, loads every module and
 * provisions the config without serving or contacting anything. Rejects with Caddy's message.
 */
export async function validateCaddyfile(caddyfilePath: string, dir: string): Promise<void> {
  const binary = requireBinary('caddy', 'caddy');
  try {
    await run(binary, ['validate', '--config', caddyfilePath, '--adapter', 'caddyfile'], { cwd: dir, env: await caddyEnvironment(dir), timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`caddy validate rejected ${caddyfilePath}:\n${stderr}`, { cause: error });
  }
}

/**
 * The text of the named snippet `(name) { … }` in a Caddyfile, braces included, so a test can
 * import exactly what a shipped example defines.
 */
export async function caddySnippet(caddyfilePath: string, name: string): Promise<string> {
  const text = await readFile(caddyfilePath, 'utf8');
  const start = text.search(new RegExp(`^\\(${name}\\)\\s*\\{`, 'm'));
  if (start === -1) throw new Error(`no snippet (${name}) in ${caddyfilePath}`);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`snippet (${name}) in ${caddyfilePath} has no closing brace`);
}

/** `caddy run` in the foreground with everything it writes under `dir`; resolves when its ports accept connections. */
export async function startCaddy(options: StartCaddyOptions): Promise<CaddyServer> {
  const binary = requireBinary('caddy', 'caddy');
  const { dir } = options;
  if (/^\s*\{/.test(options.caddyfile)) {
    throw new Error('startCaddy writes the global options block itself; pass only site blocks and snippets');
  }
  const env = await caddyEnvironment(dir);
  const httpPort = await freePort(); // never :80, even if something asks for an http listener
  const caddyfilePath = join(dir, 'Caddyfile');
  const text = `# Written by tests/helpers/caddy.ts
{
	admin off
	auto_https disable_redirects
	skip_install_trust
	default_bind 127.0.0.1
	http_port ${httpPort}
	storage file_system ${join(dir, 'storage')}
}

${options.caddyfile}
`;
  await writeFile(caddyfilePath, text);
  const ports = options.ports ?? sitePorts(options.caddyfile);
  if (ports.length === 0) throw new Error(`no site port found in ${caddyfilePath}; pass ports`);

  const service = startService('caddy', binary, ['run', '--config', caddyfilePath, '--adapter', 'caddyfile'], { cwd: dir, env });
  try {
    for (const port of ports) {
      await waitForPort(port, { what: `caddy on port ${port}`, check: () => service.assertRunning() });
    }
  } catch (error) {
    await service.stop();
    throw new Error(`${(error as Error).message}\n--- caddy output ---\n${service.output()}\n--- Caddyfile ---\n${text}`, { cause: error });
  }
  return { ports, pid: service.pid, caddyfilePath, output: () => service.output(), stop: () => service.stop() };
}
