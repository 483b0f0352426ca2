/**
 * Which Migration holds each VM: one active Migration per VM, kept in this process so that two
 * Migrations of one VM reconciled a moment apart (by two workers, or before the cache shows the
 * first one's Scheduling) are never both let past Pending. The informer cache alone cannot say
 * so: it may not show yet what this process wrote a moment ago.
 *
 * A claim is taken in the same synchronous step as the decision to leave Pending, before any
 * await, and released when the cache shows its Migration ended or gone. It is rebuilt from the
 * informer's first list (every active Migration past Pending claims its VM), so a new leader
 * starts from what the API holds.
 */
import { migrationIsActive, objectKey, type Migration } from '@shoal/api';

/** The VM a Migration names: `namespace/vmName`. */
export const vmKeyOf = (m: Migration) => objectKey({ namespace: m.metadata.namespace, name: m.spec.vmName });

export class VmClaims {
  /** VM key → the key of the Migration holding it. */
  private readonly holders = new Map<string, string>();

  /** The Migration holding the VM, if any. */
  holder(vmKey: string): string | undefined {
    return this.holders.get(vmKey);
  }

  /** Takes the VM for `migrationKey` unless another Migration holds it; answers whether it holds it now. */
  claim(vmKey: string, migrationKey: string): boolean {
    const holder = this.holders.get(vmKey);
    if (holder !== undefined && holder !== migrationKey) return false;
    this.holders.set(vmKey, migrationKey);
    return true;
  }

  /** Keeps the claims in step with a Migration as the cache shows it (undefined: deleted). */
  observe(key: string, m: Migration | undefined, vmKey: string): void {
    if (!m || !migrationIsActive(m)) {
      if (this.holders.get(vmKey) === key) this.holders.delete(vmKey);
      return;
    }
    if ((m.status?.phase ?? 'Pending') !== 'Pending') this.claim(vmKey, key);
  }
}
