/** How `top` writes usage, as `kubectl top` does: CPU in millicores, memory in MiB, shares in whole percent. */
import { parseQuantity, type ResourceUsage } from '@shoal/api';

export interface Usage {
  cores: number;
  bytes: number;
}

export const usageOf = (u: ResourceUsage): Usage => ({ cores: parseQuantity(u.cpu), bytes: parseQuantity(u.memory) });

export const millicores = (cores: number) => `${Math.round(cores * 1000)}m`;
export const mebibytes = (bytes: number) => `${Math.round(bytes / 1024 ** 2)}Mi`;
/** `part` as a whole percentage of `whole`; `<unknown>` when the whole is not known. */
export const share = (part: number, whole: number | undefined) => (whole ? `${Math.round((part / whole) * 100)}%` : '<unknown>');

/** Biggest first by the key, then by name; by name alone without one. */
export function byUsage<T extends { name: string; usage?: Usage }>(rows: T[], key: 'cpu' | 'memory' | undefined): T[] {
  const value = (r: T) => (r.usage ? (key === 'cpu' ? r.usage.cores : r.usage.bytes) : -1);
  return [...rows].sort((a, b) => (key ? value(b) - value(a) : 0) || a.name.localeCompare(b.name));
}
