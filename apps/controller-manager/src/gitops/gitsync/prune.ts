/**
 * Prune: what the last passes applied and this commit no longer holds is deleted — only when the
 * live object is the one the sync applied (the uid in the inventory; for an entry recorded before
 * its apply finished, the sync's labels), so an object made by hand under a name the repository
 * once used is never touched. Deletes go in the reverse of the apply order (VMs before their
 * Volumes, Namespaces last) and as the identity the sync applies as.
 */
import { ApiError, GITSYNC_NAME_LABEL, GITSYNC_NAMESPACE_LABEL, kinds, type GitSync, type GitSyncInventoryEntry, type KindInfo } from '@shoal/api';
import { applyRank, objectId, type ShoalClient } from '@shoal/client';

export interface PruneResult {
  /** Entries that leave the inventory: deleted, already gone, or no longer the object the sync applied. */
  released: GitSyncInventoryEntry[];
  /** How many of them this pass deleted. */
  deleted: number;
  /** Entries that could not be deleted (kept in the inventory, to try again). */
  failed: { entry: GitSyncInventoryEntry; message: string }[];
}

export const entryId = (e: GitSyncInventoryEntry) => objectId(e.kind, e.namespace, e.name);

export async function prune(
  reader: ShoalClient,
  applier: ShoalClient,
  sync: GitSync,
  stale: readonly GitSyncInventoryEntry[],
  signal: AbortSignal,
): Promise<PruneResult> {
  const result: PruneResult = { released: [], deleted: 0, failed: [] };
  const known = stale
    .map((entry) => ({ entry, kind: kinds().find(entry.kind) }))
    .filter((x): x is { entry: GitSyncInventoryEntry; kind: KindInfo } => !!x.kind);
  known.sort((a, b) => applyRank(b.kind) - applyRank(a.kind));
  for (const { entry, kind } of known) {
    try {
      const live = await reader.get(kind, entry.name, { namespace: entry.namespace, signal });
      const labels = live.metadata.labels ?? {};
      const ours = entry.uid
        ? live.metadata.uid === entry.uid
        : labels[GITSYNC_NAME_LABEL] === sync.metadata.name && labels[GITSYNC_NAMESPACE_LABEL] === sync.metadata.namespace;
      if (ours && !live.metadata.deletionTimestamp) {
        await applier.delete(kind, entry.name, { namespace: entry.namespace, preconditions: { uid: live.metadata.uid! }, signal });
        result.deleted++;
      }
      result.released.push(entry);
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) result.released.push(entry);
      else if (err instanceof ApiError) result.failed.push({ entry, message: err.message });
      else throw err;
    }
  }
  return result;
}
