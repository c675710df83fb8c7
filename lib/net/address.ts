import { BlockList, isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
  /** The path the server answers under, without a trailing slash: '' for none (`tcp://:9091` or `tcp://:9091/`). */
  path: string;
}

/**
 * `tcp://host:port`, `tcp://:port` (all interfaces) or `host:port`; IPv6 hosts in brackets; then an
 * optional path (`tcp://:9091/auth`, `tcp://:9091/auth/`), returned as written without its trailing
 * slash. Whether a path is acceptable is each caller's validator's to say (the gateway's server.address
 * takes one segment, other listeners none).
 */
export function parseListenAddress(address: string): ListenAddress | null {
  const match = /^(?:tcp:\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d{1,5})(\/[^?#\s]*)?$/.exec(address.trim());
  if (!match) return null;
  const port = Number(match[2]);
  if (port > 65535) return null;
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const path = (match[3] ?? '').replace(/\/$/, '');
  return { host: host === '' ? '0.0.0.0' : host, port, path };
}

/** `::ffff:192.0.2.1` is the IPv4 peer 192.0.2.1 (on a dual-stack socket): compare and count it as such. */
export function normaliseIp(ip: string): string {
  const text = /[\sA-F]/.test(ip) ? ip.trim().toLowerCase() : ip;
  return text.startsWith('::ffff:') && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
}

/** Parse `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A precompiled membership test for a list of CIDRs (invalid entries must be rejected by validation first). */
export function makeAddressMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  // the same few proxy addresses ask on every request: remember their answers (bounded)
  const known = new Map<string, boolean>();
  return (ip: string) => {
    let answer = known.get(ip);
    if (answer === undefined) {
      const plain = normaliseIp(ip);
      const family = isIP(plain);
      answer = family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
      if (known.size >= 1024) known.clear();
      known.set(ip, answer);
    }
    return answer;
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Plain http is allowed only where browsers treat it as a secure context. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127(?:\.\d{1,3}){3}$/.test(hostname) || hostname.toLowerCase().endsWith('.localhost');
}

/** The address as one client: IPv4 as is, IPv6 by its /64 (one host usually holds the whole /64). */
export function clientKey(ip: string): string {
  const plain = normaliseIp(ip).split('%')[0]!;
  if (isIP(plain) !== 6) return plain.toLowerCase();
  const [head = '', tail] = plain.split('::') as [string, string | undefined];
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const full = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}
