/**
 * The HTTP(S) server both services run: keep-alive longer than the proxies' idle timeouts (so they never
 * reuse a socket we are closing), listening where the configuration says, closing with a grace period.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { parseListenAddress } from './net/address.ts';

export interface ServiceServer {
  server: Server;
  port: number;
  /** e.g. http://127.0.0.1:9091 (loopback when listening on every interface). */
  url: string;
  /** Stop accepting, let running requests finish for up to 5 s, then cut them. */
  close(): Promise<void>;
}

export interface ServeOptions {
  address: string;
  tls?: { certificate: string; key: string };
  request: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

export async function serve(options: ServeOptions): Promise<ServiceServer> {
  const timeouts = { keepAliveTimeout: 65_000, headersTimeout: 66_000, requestTimeout: 70_000 };
  const server = options.tls
    ? createHttpsServer({ ...timeouts, cert: readFileSync(options.tls.certificate), key: readFileSync(options.tls.key) })
    : createHttpServer(timeouts);
  server.on('request', options.request);
  server.on('upgrade', (req, socket, head) => options.upgrade(req, socket as Socket, head));
  const listen = parseListenAddress(options.address);
  if (!listen) throw new Error(`cannot listen on '${options.address}'`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    server,
    port,
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}
