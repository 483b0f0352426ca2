/**
 * Ordering of resourceVersions. Kubernetes calls them opaque, but Shoal defines them as etcd
 * mod_revisions (DESIGN.md), so they compare as integers; the informer relies on that to drop
 * events it has already applied instead of applying them twice.
 */

const INTEGER = /^\d+$/;

/** Negative when a is older than b, 0 when equal, positive when newer. Non-numeric versions only compare equal or newer. */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined || a === '') return -1;
  if (b === undefined || b === '') return 1;
  if (INTEGER.test(a) && INTEGER.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  // Something we cannot order: treat the incoming one as newer, the safe default for a cache.
  return 1;
}

export function isNewerResourceVersion(candidate: string | undefined, than: string | undefined): boolean {
  return compareResourceVersions(candidate, than) > 0;
}

/** The version just before `rv` (a watch from it starts with rv's own changes); rv itself when it is not a number. */
export function previousResourceVersion(rv: string): string {
  return INTEGER.test(rv) && rv !== '0' ? String(BigInt(rv) - 1n) : rv;
}
