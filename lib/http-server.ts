/**
 * The HTTP(S) server both services run: keep-alive longer than the proxies' idle timeouts (so they never
 * reuse a socket we are closing), listening where the configuration says, closing with a grace period.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { GatehouseError } from './errors.ts';
import { parseListenAddress } from './net/address.ts';

// node:http taken as its CommonJS object: an ESM import of it builds the whole namespace, whose
// WebSocket/CloseEvent/MessageEvent getters load Node's bundled fetch client (undici, ~14 MB resident)
const { createServer: createHttpServer } = process.getBuiltinModule('node:http');

export interface ServiceServer {
  server: Server;
  port: number;
  /** e.g. http://127.0.0.1:9091 (loopback when listening on every interface). */
  url: string;
  /**
   * Stop accepting, let running requests finish (their answers say `Connection: close` and the
   * connection ends after them; idle keep-alive connections end at once) for up to `graceMs`
   * (default 5 s), then cut whatever is left. Upgraded connections (WebSockets) end at once, after
   * what their service wrote last (its close frame) is flushed.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ServeOptions {
  address: string;
  tls?: { certificate: string; key: string };
  request: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

const CONNECTION_HEADERS = new Set(['connection', 'keep-alive']);

/**
 * A WebSocket opening handshake (RFC 6455 §4.1: a GET asking to upgrade to `websocket`), the only
 * upgrade either service accepts. Any other (`Upgrade: h2c`, as `curl --http2 http://…` sends, or a
 * POST naming websocket) is optional for the server to honour (RFC 9110 §7.8): it is served as the
 * plain request it also is.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

const NOT_A_WEBSOCKET_TEXT = '400 Bad Request: only WebSocket upgrades are accepted; send the request without Upgrade.';
const NOT_A_WEBSOCKET = `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(NOT_A_WEBSOCKET_TEXT)}\r\n\r\n${NOT_A_WEBSOCKET_TEXT}`;

/** writeHead's headers argument (object or flat list) without Connection and Keep-Alive; anything else as is. */
function withoutConnectionHeaders(arg: unknown): unknown {
  if (Array.isArray(arg)) {
    const kept: unknown[] = [];
    for (let i = 0; i + 1 < arg.length; i += 2) if (!CONNECTION_HEADERS.has(String(arg[i]).toLowerCase())) kept.push(arg[i], arg[i + 1]);
    return kept;
  }
  if (arg && typeof arg === 'object') return Object.fromEntries(Object.entries(arg).filter(([name]) => !CONNECTION_HEADERS.has(name.toLowerCase())));
  return arg;
}

/** Ends `socket` once what was written to it is flushed, without waiting for the peer to end its side. */
function endAfterFlush(socket: Socket): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
  if (socket.writableFinished) socket.destroy();
}

export async function serve(options: ServeOptions): Promise<ServiceServer> {
  // only WebSocket handshakes become 'upgrade' events; any other upgrade is a 'request' (Node ≥ 24.9 or 22.21)
  const settings = { keepAliveTimeout: 65_000, headersTimeout: 66_000, requestTimeout: 70_000, shouldUpgradeCallback: isWebSocketUpgrade };
  const server = options.tls
    ? createHttpsServer({ ...settings, cert: readFileSync(options.tls.certificate), key: readFileSync(options.tls.key) })
    : createHttpServer(settings);
  // responses still to be answered, so a shutdown can tell each to end its connection
  const running = new Set<ServerResponse>();
  let draining = false;
  const endConnectionAfter = (res: ServerResponse) => {
    if (res.headersSent) return;
    res.shouldKeepAlive = false;
    // whatever the handler says (a proxied app's own `Connection: keep-alive` too), this connection ends
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      res.removeHeader('Keep-Alive');
      res.setHeader('Connection', 'close');
      return writeHead(status, ...rest.map(withoutConnectionHeaders));
    }) as ServerResponse['writeHead'];
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (draining) endConnectionAfter(res);
    running.add(res);
    res.once('close', () => {
      running.delete(res);
      // a connection whose answer went out before the drain began may be idle now
      if (draining) server.closeIdleConnections();
    });
    options.request(req, res);
  });
  // upgraded connections (WebSockets, the service's own or proxied): closeAllConnections() does not
  // see them and server.close() waits for them, so the drain ends them itself
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (draining) return void socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    // a Node without shouldUpgradeCallback hands every upgrade here: a clear answer, never a dropped socket
    if (!isWebSocketUpgrade(req)) return void socket.end(NOT_A_WEBSOCKET);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    options.upgrade(req, socket, head);
  });
  const listen = parseListenAddress(options.address);
  if (!listen) throw new GatehouseError('listen_address_invalid', `cannot listen on '${options.address}'`);
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
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        draining = true;
        for (const res of running) endConnectionAfter(res);
        const cut = setTimeout(() => {
          server.closeAllConnections();
          for (const socket of upgraded) socket.destroy();
        }, graceMs);
        cut.unref();
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
        // a WebSocket has no request to finish: what its service wrote last (a 1001 close frame) goes
        // out, then the connection ends; a client that does not read is cut with the rest
        for (const socket of upgraded) endAfterFlush(socket);
      }),
  };
}
