import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.ts';
import { waitForPort } from './ports.ts';
import { startService } from './processes.ts';
import { repoPath } from './repo.ts';

const run = promisify(execFile);

export interface StartNginxOptions {
  /**
   * What goes inside `http { … }` (upstreams, servers). A text with its own top-level `http {`
   * block is taken as the whole nginx.conf and written unchanged.
   */
  config: string;
  /** A private directory for nginx.conf, the pid file, logs and temp paths (the caller removes it). */
  dir: string;
  /** Ports to wait for; default: every port in the config's `listen` directives. */
  ports?: number[];
}

export interface NginxServer {
  readonly ports: number[];
  /** The master's pid, also its process group (workers included). */
  readonly pid: number;
  readonly confPath: string;
  /** nginx's error log (the file under `dir`), for assertions and failure messages. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/** Absolute path of a shipped snippet, for `include` lines: `nginxSnippet('proxy.conf')`. */
export function nginxSnippet(name: string): string {
  return repoPath('nginx', 'snippets', name);
}

function listenPorts(config: string): number[] {
  const ports = new Set<number>();
  for (const match of config.matchAll(/(?:^|[;{\s])listen\s+(?:\S*:)?(\d+)\b/g)) ports.add(Number(match[1]));
  return [...ports];
}

function wrapHttpBody(body: string, dir: string): string {
  const temp = (name: string): string => join(dir, 'temp', name);
  return `# Written by tests/helpers/nginx.ts: everything nginx writes stays under ${dir}.
daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
${
  // As root the workers would drop to nobody and lose access to this 0700 directory.
  process.getuid?.() === 0 ? 'user root root;' : ''
}
events {
    worker_connections 256;
}

http {
    access_log ${join(dir, 'access.log')};
    client_body_temp_path ${temp('client_body')};
    proxy_temp_path ${temp('proxy')};
    fastcgi_temp_path ${temp('fastcgi')};
    uwsgi_temp_path ${temp('uwsgi')};
    scgi_temp_path ${temp('scgi')};
    default_type application/octet-stream;

${body}
}
`;
}

/**
 * Write `<dir>/nginx.conf` (the http{} body wrapped as in startNginx) and run `nginx -t` on it;
 * rejects with nginx's message and the file. Nothing is started and no port is bound.
 */
export async function checkNginxConfig(options: { config: string; dir: string }): Promise<{ confPath: string; text: string; args: string[] }> {
  const binary = requireBinary('nginx', 'nginx-light');
  const { dir } = options;
  const isWholeFile = /^\s*http\s*\{/m.test(options.config);
  const text = isWholeFile ? options.config : wrapHttpBody(options.config, dir);
  const confPath = join(dir, 'nginx.conf');
  await mkdir(join(dir, 'temp'), { recursive: true });
  await writeFile(confPath, text);
  const args = ['-c', confPath, '-p', dir, '-e', 'stderr'];
  try {
    await run(binary, [...args, '-t']);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`nginx -t rejected ${confPath}:\n${stderr}\n--- nginx.conf ---\n${text}`, { cause: error });
  }
  return { confPath, text, args };
}

/**
 * nginx in the foreground with `-p dir`, after `nginx -t` passed (its output is the error otherwise);
 * resolves when every port accepts connections.
 */
export async function startNginx(options: StartNginxOptions): Promise<NginxServer> {
  const binary = requireBinary('nginx', 'nginx-light');
  const { dir } = options;
  const { confPath, text, args } = await checkNginxConfig(options);

  const ports = options.ports ?? listenPorts(text);
  if (ports.length === 0) throw new Error(`no listen port found in ${confPath}; pass ports`);
  const service = startService('nginx', binary, args, { cwd: dir });
  const errorLog = (): Promise<string> => readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  try {
    for (const port of ports) {
      await waitForPort(port, { what: `nginx on port ${port}`, check: () => service.assertRunning() });
    }
  } catch (error) {
    await service.stop();
    throw new Error(`${(error as Error).message}\n--- error.log ---\n${await errorLog()}`, { cause: error });
  }
  return { ports, pid: service.pid, confPath, errorLog, stop: () => service.stop() };
}

/**
 * The site the README's nginx recipe describes, with the shipped snippets: the portal at
 * `auth.example.test` and the apps (`appHosts`) behind `auth_request`, all on `proxyPort` with TLS.
 */
export function authRequestSite(options: { proxyPort: number; gatewayPort: number; upstreamUrl: string; cert: { certPath: string; keyPath: string }; appHosts: readonly string[] }): string {
  const { proxyPort, gatewayPort, upstreamUrl, cert, appHosts } = options;
  return `
upstream gatehouse {
    server 127.0.0.1:${gatewayPort};
}
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name auth.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    location / {
        include ${nginxSnippet('proxy.conf')};
        proxy_pass http://gatehouse;
    }
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name ${appHosts.join(' ')};
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        proxy_pass ${upstreamUrl};
    }
}
`;
}
