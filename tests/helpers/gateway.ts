import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { request } from './http.ts';
import { startService } from './processes.ts';
import { repoPath, repoRoot } from './repo.ts';

export interface StartGatewayOptions {
  /**
   * The whole gateway config; `server.address` must be `tcp://127.0.0.1:<port>` (pick it with `freePort()`), or the
   * deprecated `server.host: 127.0.0.1` with `server.port`, unless `port` is given.
   */
  configYaml: string;
  /**
   * Listen on 127.0.0.1:`port` whatever the config says (passed as GATEHOUSE_SERVER_ADDRESS): lets
   * several processes run from one config file, as instances behind a load balancer do.
   */
  port?: number;
  /** A private directory; the config is written there as gateway.yml (0600, it holds secrets). */
  dir: string;
  /** Extra environment (e.g. `GATEHOUSE_*` overrides), on top of this process's. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for `GET /api/health` → 200. Default 15 s. */
  timeoutMs?: number;
  /** The command's entry point under bin/: `gatehouse.ts` (default) or `gatehouse.js`, the installed command. */
  entry?: 'gatehouse.ts' | 'gatehouse.js';
}

export interface GatewayProcess {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly configPath: string;
  readonly pid: number;
  /** What the process printed so far (stdout and stderr). */
  logs(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** Resolves with the exit code or signal once the process has exited (whoever stopped it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function listenPort(configYaml: string): number {
  const config = parse(configYaml) as { server?: { address?: unknown; host?: unknown; port?: unknown } } | null;
  const server = config?.server;
  // Authelia ≤ 4.37's server.host and server.port (deprecated, still read)
  if (server?.address === undefined && server?.host === '127.0.0.1' && typeof server.port === 'number') return server.port;
  const address = server?.address;
  const match = typeof address === 'string' ? /^tcp:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)\/?$/.exec(address) : null;
  if (!match) throw new Error(`startGatewayProcess: server.address must be tcp://127.0.0.1:<port>, got ${JSON.stringify(address)}`);
  return Number(match[1]);
}

/**
 * `node bin/gatehouse.ts gateway --config <dir>/gateway.yml` from the repository root, resolved once
 * `/api/health` answers 200. On failure the process is stopped and the error carries its output.
 */
export async function startGatewayProcess(options: StartGatewayOptions): Promise<GatewayProcess> {
  const port = options.port ?? listenPort(options.configYaml);
  const url = `http://127.0.0.1:${port}`;
  const configPath = join(options.dir, 'gateway.yml');
  await writeFile(configPath, options.configYaml, { mode: 0o600 });
  const service = startService(
    'gatehouse gateway',
    process.execPath,
    [repoPath('bin', options.entry ?? 'gatehouse.ts'), 'gateway', '--config', configPath],
    {
      cwd: repoRoot,
      env: { ...process.env, ...options.env, ...(options.port === undefined ? {} : { GATEHOUSE_SERVER_ADDRESS: `tcp://127.0.0.1:${options.port}` }) },
    },
  );

  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastAnswer = 'no answer yet';
  try {
    for (;;) {
      service.assertRunning();
      try {
        const health = await request(`${url}/api/health`, { timeoutMs: 2_000 });
        if (health.status === 200) break;
        lastAnswer = `${health.status} ${health.body.slice(0, 200)}`;
      } catch (error) {
        lastAnswer = (error as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(`the gateway did not answer GET /api/health with 200 within ${timeoutMs} ms (last: ${lastAnswer}); its output:\n${service.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await service.stop();
    throw error;
  }
  return { port, url, configPath, pid: service.pid, logs: () => service.output(), stop: () => service.stop(), exited: service.exited };
}
