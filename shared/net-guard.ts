// Which hosts and addresses an outbound fetch of untrusted URLs may reach (SSRF defence).
import net from 'node:net';

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'reserved' | 'metadata';

function list(entries: [string, number, 'ipv4' | 'ipv6'][]): net.BlockList {
  const bl = new net.BlockList();
  for (const [addr, bits, type] of entries) bl.addSubnet(addr, bits, type);
  return bl;
}

// BlockList also matches IPv4-mapped IPv6 (::ffff:a.b.c.d) against the IPv4 entries.
const CLASSES: [Exclude<AddressClass, 'public'>, net.BlockList][] = [
  // Cloud instance metadata (AWS/GCP/Azure/Alibaba): credentials live there; never an image host.
  ['metadata', list([['169.254.169.254', 32, 'ipv4'], ['100.100.100.200', 32, 'ipv4'], ['fd00:ec2::254', 128, 'ipv6']])],
  ['loopback', list([['127.0.0.0', 8, 'ipv4'], ['0.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6'], ['::', 128, 'ipv6']])],
  ['link-local', list([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']])],
  ['private', list([
    ['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'],
    ['fc00::', 7, 'ipv6'], ['fec0::', 10, 'ipv6'],
  ])],
  ['reserved', list([
    ['192.0.0.0', 24, 'ipv4'], ['192.0.2.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'], ['198.51.100.0', 24, 'ipv4'],
    ['203.0.113.0', 24, 'ipv4'], ['224.0.0.0', 4, 'ipv4'], ['240.0.0.0', 4, 'ipv4'],
    ['100::', 64, 'ipv6'], ['2001:db8::', 32, 'ipv6'], ['ff00::', 8, 'ipv6'],
  ])],
];

/** The 16 bytes of an IPv6 address (also accepts a trailing dotted quad). */
function ipv6Bytes(addr: string): number[] {
  let text = addr.split('%')[0]!;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -quad[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** IPv4 carried inside an IPv6 address by NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
function embeddedIPv4(addr: string): string | undefined {
  const b = ipv6Bytes(addr);
  const isNat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0);
  if (isNat64) return b.slice(12, 16).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return undefined;
}

export function classifyAddress(address: string): AddressClass {
  const family = net.isIP(address);
  if (family === 0) throw new Error(`not an IP address: ${address}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, bl] of CLASSES) if (bl.check(address, type)) return cls;
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4) return classifyAddress(v4);
  }
  return 'public';
}

export interface AddressPolicy {
  allowPrivateNetworks: boolean;
  /** IPs or CIDRs allowed even when private networks are not. */
  allowAddresses?: readonly string[];
}

function exceptionList(entries: readonly string[]): net.BlockList {
  const bl = new net.BlockList();
  for (const entry of entries) {
    const [ip = '', bits] = entry.split('/');
    const type = net.isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(ip, type);
    else bl.addSubnet(ip, Number(bits), type);
  }
  return bl;
}

/**
 * Why an address may not be fetched, or undefined when it may. Metadata endpoints are refused
 * even when private networks are allowed: no image lives there, credentials do.
 */
export function addressRefusal(address: string, policy: AddressPolicy): string | undefined {
  const cls = classifyAddress(address);
  if (cls === 'public') return undefined;
  if (cls === 'metadata') return `${address} is a cloud metadata endpoint (always refused)`;
  if (policy.allowAddresses?.length && exceptionList(policy.allowAddresses).check(address, net.isIP(address) === 6 ? 'ipv6' : 'ipv4')) return undefined;
  if (policy.allowPrivateNetworks) return undefined;
  return `${address} is a ${cls} address and private networks are refused (IMAGE_ALLOW_PRIVATE_NETWORKS)`;
}

/**
 * Host allow-list match: exact names, "*.example.com" for any subdomain (not the apex),
 * and "*" for any host. Names compare case-insensitively, without a trailing dot.
 */
export function hostAllowed(hostname: string, patterns: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
  return patterns.some((raw) => {
    const p = raw.toLowerCase().replace(/\.$/, '');
    if (p === '*') return true;
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p.replace(/^\[(.*)\]$/, '$1');
  });
}

/** Origin and path only: query strings of signed URLs carry credentials. */
export function describeUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
