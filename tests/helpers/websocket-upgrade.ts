import { request } from 'node:http';

/**
 * Asks 127.0.0.1:`port` to upgrade `path` on `host` to a WebSocket, with `headers` besides the upgrade's
 * own: the status of the answer, 101 when the upgrade was let through. Bounded by 5 s.
 */
export function upgradeStatus(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: { host: `${host}:${port}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
      timeout: 5_000,
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the upgrade within 5 s')));
    req.on('error', reject);
    req.end();
  });
}
