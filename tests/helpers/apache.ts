/**
 * Apache httpd in the foreground for a test: a generated httpd.conf in a private directory (ServerRoot,
 * pid file, error log, runtime files all there), only the modules the test names, `apache2 -t` first so
 * a bad configuration fails with httpd's own message. Used as a real OpenID Connect relying party
 * (mod_auth_openidc) and as the TLS front of the in-process gateway.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.ts';
import { waitForPort } from './ports.ts';
import { startService } from './processes.ts';

const run = promisify(execFile);

/** Where Debian's apache2 packages put the modules. */
export const APACHE_MODULES_DIR = '/usr/lib/apache2/modules';

/** `apache2`, or an Error naming the package; with `module` also that module (`mod_auth_openidc.so`) and its package. */
export function requireApache(module?: { file: string; debianPackage: string }): string {
  const binary = requireBinary('apache2', 'apache2');
  if (module && !existsSync(join(APACHE_MODULES_DIR, module.file))) {
    throw new Error(`${module.file} not found in ${APACHE_MODULES_DIR}: install the Debian package ${module.debianPackage} (apt-get install ${module.debianPackage}, or run scripts/install-test-deps.sh)`);
  }
  return binary;
}

export interface StartApacheOptions {
  /** The private directory for httpd.conf, the pid file, logs and runtime files (the caller removes it). */
  dir: string;
  /** The port to listen on, on 127.0.0.1. */
  port: number;
  /** Module names as in `LoadModule <name>_module`, file `mod_<name>.so`: `['ssl', 'proxy', 'auth_openidc']`. `mpm_prefork` and `authz_core` are always loaded. */
  modules: readonly string[];
  /** What follows the global settings: virtual hosts, module directives. */
  config: string;
}

export interface ApacheServer {
  readonly port: number;
  /** The parent's pid, also its process group (the children included). */
  readonly pid: number;
  readonly confPath: string;
  /** Apache's error log (the file under `dir`), for assertions and failure messages. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

const ALWAYS = ['mpm_prefork', 'authz_core'];

function httpdConf(options: StartApacheOptions, asRoot: boolean): string {
  const { dir, port } = options;
  const modules = [...new Set([...ALWAYS, ...options.modules])];
  return `# Written by tests/helpers/apache.ts: everything httpd writes stays under ${dir}.
ServerRoot "${dir}"
PidFile "${join(dir, 'httpd.pid')}"
DefaultRuntimeDir "${join(dir, 'run')}"
ErrorLog "${join(dir, 'error.log')}"
LogLevel warn
ServerName localhost
Listen 127.0.0.1:${port}
${modules.map((name) => `LoadModule ${name}_module ${join(APACHE_MODULES_DIR, `mod_${name}.so`)}`).join('\n')}
${
  // As root the children drop to an unprivileged user (httpd refuses to serve as root); the directory is opened to it.
  asRoot ? 'User nobody\nGroup nogroup' : ''
}
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16
Timeout 15
KeepAlive Off

${options.config}
`;
}

/** Writes `<dir>/httpd.conf` and runs `apache2 -t` on it; rejects with httpd's message and the file. */
export async function checkApacheConfig(options: StartApacheOptions): Promise<{ confPath: string; text: string; binary: string }> {
  const binary = requireApache();
  const asRoot = process.getuid?.() === 0;
  const { dir } = options;
  await mkdir(join(dir, 'run'), { recursive: true });
  if (asRoot) await chmod(dir, 0o755);
  const text = httpdConf(options, asRoot);
  const confPath = join(dir, 'httpd.conf');
  await writeFile(confPath, text);
  try {
    await run(binary, ['-d', dir, '-f', confPath, '-t']);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`apache2 -t rejected ${confPath}:\n${stderr}\n--- httpd.conf ---\n${text}`, { cause: error });
  }
  return { confPath, text, binary };
}

/** httpd in the foreground after `apache2 -t` passed; resolves when its port accepts connections. */
export async function startApache(options: StartApacheOptions): Promise<ApacheServer> {
  const { confPath, binary } = await checkApacheConfig(options);
  const { dir, port } = options;
  // a clean environment: Debian's apache2 reads APACHE_* variables only through its own apache2.conf
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C' };
  const service = startService('apache2', binary, ['-d', dir, '-f', confPath, '-DFOREGROUND'], { cwd: dir, env });
  const errorLog = (): Promise<string> => readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  try {
    await waitForPort(port, { what: `apache2 on port ${port}`, check: () => service.assertRunning() });
  } catch (error) {
    await service.stop();
    throw new Error(`${(error as Error).message}\n--- error.log ---\n${await errorLog()}`, { cause: error });
  }
  return { port, pid: service.pid, confPath, errorLog, stop: () => service.stop() };
}
