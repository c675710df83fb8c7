import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { acceptWebSocketEcho } from './websocket-echo.ts';

export interface EchoedRequest {
  method: string;
  url: string;
  /** As Node received them: names lower-cased. */
  headers: IncomingHttpHeaders;
  body: string;
}

export interface EchoUpstream {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: EchoedRequest[];
  close(): Promise<void>;
}

/**
 * The app behind the proxy: answers every request with 200 and JSON `{method, url, headers, body}`
 * of what reached it, and records it, so a test sees exactly what the proxy forwarded. With
 * `websocket: true` it also accepts WebSocket upgrades (recorded too, body '') and echoes messages.
 */
export async function startEchoUpstream(options: { websocket?: boolean } = {}): Promise<EchoUpstream> {
  const requests: EchoedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const echoed: EchoedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(echoed);
      const payload = JSON.stringify(echoed);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  const upgraded = new Set<Duplex>();
  if (options.websocket) {
    server.on('upgrade', (req, socket, head) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
      acceptWebSocketEcho(req, socket, head);
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('echo upstream has no port');
  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  };
}
