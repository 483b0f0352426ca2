/**
 * IPv4 subnets as Networks use them (network controller, agents): parse a CIDR, list the
 * addresses VMs may get, name the IPAddress that takes one, and a NIC's MAC.
 */
import { createHash } from 'node:crypto';

export interface Subnet {
  /** The network address, as a number. */
  base: number;
  prefixLength: number;
  /** Addresses in the subnet, network and broadcast included. */
  size: number;
}

/** The smallest and largest Networks: /16 (65,533 VMs) to /29 (5). */
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 29;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The subnet, or a sentence saying what is wrong with the text. */
export function parseCidr(text: string): Subnet | string {
  const [address, prefix, ...rest] = text.split('/');
  const base = parseIpv4(address ?? '');
  const prefixLength = Number(prefix);
  if (rest.length || base === undefined || !/^[0-9]{1,2}$/.test(prefix ?? '')) return `${JSON.stringify(text)} is not an IPv4 CIDR like 10.40.0.0/24`;
  if (prefixLength < MIN_PREFIX || prefixLength > MAX_PREFIX) return `a Network's prefix must be /${MIN_PREFIX} to /${MAX_PREFIX}, got /${prefixLength}`;
  const size = 2 ** (32 - prefixLength);
  if (base % size !== 0) return `${text} has host bits set: the subnet is ${formatIpv4(base - (base % size))}/${prefixLength}`;
  return { base, prefixLength, size };
}

export const contains = (s: Subnet, address: number) => address > s.base && address < s.base + s.size - 1;

/** The gateway: the one given, or the subnet's first address. */
export const gatewayOf = (s: Subnet, given?: string) => (given ? parseIpv4(given)! : s.base + 1);

/** How many addresses VMs can get: the subnet less network, broadcast and gateway. */
export const capacityOf = (s: Subnet) => s.size - 3;

/** The lowest address of the subnet that is neither the gateway nor `taken`. */
export function firstFree(s: Subnet, gateway: number, taken: (address: number) => boolean): number | undefined {
  for (let a = s.base + 1; a < s.base + s.size - 1; a++) if (a !== gateway && !taken(a)) return a;
  return undefined;
}

/** The IPAddress object that takes `address` on `network`: one name per address, so one object per address. */
export const ipAddressName = (network: string, address: string) => `${network}.${address.replaceAll('.', '-')}`;

/** A NIC's MAC: stable for the VM and Network, locally administered under QEMU's 52:54:00 prefix. */
export function macForNic(vmUID: string, network: string): string {
  const h = createHash('sha256').update(`${vmUID}/${network}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
