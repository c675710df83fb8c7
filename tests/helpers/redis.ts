import { connect } from 'node:net';
import { requireBinary } from './binaries.ts';
import { freePort } from './ports.ts';
import { startService, type ServiceProcess } from './processes.ts';
import { makeTempDir } from './tmp.ts';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The current redis-server's pid (changes on restart). */
  readonly pid: number;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port; its data is gone (nothing is persisted). */
  restart(): Promise<void>;
  /** Stops the server, keeping its port and directory, so a test can act while Redis is down. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port (empty). */
  resume(): Promise<void>;
  output(): string;
}

/** Resolves true if the server on host:port answers `PING` with `+PONG`. */
export function pingRedis(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.once('error', () => finish(false));
  });
}

async function waitForPong(service: ServiceProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    service.assertRunning();
    if (await pingRedis('127.0.0.1', port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within ${timeoutMs} ms:\n${service.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A throwaway redis-server on 127.0.0.1 and a free port, persisting nothing. */
export async function startRedis(): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server');
  const temp = await makeTempDir('gatehouse-redis-');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', temp.dir];

  const launch = async (): Promise<ServiceProcess> => {
    const service = startService('redis-server', binary, args, { cwd: temp.dir });
    try {
      await waitForPong(service, port, 10_000);
      return service;
    } catch (error) {
      await service.stop();
      throw error;
    }
  };

  let service: ServiceProcess;
  try {
    service = await launch();
  } catch (error) {
    await temp.cleanup();
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return service.pid;
    },
    output: () => service.output(),
    async stop() {
      await service.stop();
      await temp.cleanup();
    },
    async restart() {
      await service.stop();
      service = await launch();
    },
    async pause() {
      await service.stop();
    },
    async resume() {
      if (service.hasExited()) service = await launch();
    },
  };
}
