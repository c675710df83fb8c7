import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a free 127.0.0.1 port in front of a real service (Redis, PostgreSQL), so a test can
 * make that service hang or vanish without touching it.
 */
export interface StallProxy {
  readonly host: string;
  readonly port: number;
  /** Keep every connection open but forward no byte either way; new connections are accepted and held too. */
  stall(): void;
  /** Forward again, including what was held back while stalled. */
  resume(): void;
  /** Close every connection and refuse new ones (a service that is down), until `resume()`. */
  refuse(): void;
  /** How many client connections it has accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes held back while stalled, per direction, in order. */
  held: Array<{ to: Socket; chunk: Buffer }>;
}

export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let mode: 'forward' | 'stall' | 'refuse' = 'forward';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const flush = (pair: Pair) => {
    for (const { to, chunk } of pair.held.splice(0)) if (!to.destroyed) to.write(chunk);
  };

  const server: Server = createServer((client) => {
    if (mode === 'refuse') return void client.destroy();
    accepted++;
    const upstream = connect({ host: target.host, port: target.port });
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // no pipe(): its drain handling would resume a source the test holds
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (mode === 'forward') to.write(chunk);
      else pair.held.push({ to, chunk });
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    host: '127.0.0.1',
    port,
    get accepted() {
      return accepted;
    },
    stall() {
      mode = 'stall';
    },
    resume() {
      mode = 'forward';
      for (const pair of pairs) flush(pair);
    },
    refuse() {
      mode = 'refuse';
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
    },
    close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
