/**
 * Server-side apply of one manifest, as `kubectl apply --server-side` does it: the manifest is
 * sent whole as the field manager's configuration (`PATCH` with application/apply-patch+yaml);
 * the server creates the object or merges it in, keeps what other managers own, removes what
 * this manager applied before and no longer does, and answers 409 Conflict (one cause per field,
 * naming its manager) when the manifest would change a field another manager owns — unless
 * `force`, when this manager takes those fields over.
 *
 * Unlike client-side apply (apply.ts) there is no last-applied annotation and no three-way merge
 * here: ownership lives on the server, in metadata.managedFields. The object is read first only
 * to say whether the apply created, changed or left it as it was.
 */
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import type { ShoalClient, WriteOptions } from '../client.js';
import { kindOfManifest, ManifestError, type ApplyResult } from './apply.js';
import { deepEqual } from './three-way-merge.js';

export interface ServerSideApplyOptions {
  /** Who applies: the owner of every field the manifest sets (at most 128 printable characters). */
  fieldManager: string;
  /** Take over fields other managers own instead of failing with their conflicts. */
  force?: boolean;
  /** For manifests that name no namespace. */
  namespace?: string;
  /** Answer what would be stored, store nothing. */
  dryRun?: boolean;
  /** Strict by default: a misspelt field is an error, not silently dropped. */
  fieldValidation?: WriteOptions['fieldValidation'];
  signal?: AbortSignal;
}

export interface ServerSideApplied<T extends KubeObject = KubeObject> {
  /** created: there was no such object; configured: it changed (fields or their owners); unchanged: nothing was written. */
  result: ApplyResult;
  /** The object as stored (with dryRun: as it would be). */
  object: T;
  kind: KindInfo;
}

export async function serverSideApply<T extends KubeObject = KubeObject>(
  client: ShoalClient,
  manifest: KubeObject,
  opts: ServerSideApplyOptions,
): Promise<ServerSideApplied<T>> {
  const kind = kindOfManifest(manifest);
  const name = manifest.metadata?.name;
  if (!name) throw new ManifestError(`${kind.kind} has no metadata.name (apply needs a name to find the object again)`);
  if (!opts.fieldManager) throw new TypeError('serverSideApply needs a fieldManager: the name the applied fields are owned by');
  const namespace = kind.namespaced ? manifest.metadata.namespace || opts.namespace || undefined : undefined;
  const before = await client.get<T>(kind, name, { namespace, signal: opts.signal }).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  });
  const object = await client.patch<T>(
    kind,
    name,
    { apiVersion: kind.apiVersion, ...manifest },
    {
      type: 'apply',
      namespace,
      fieldManager: opts.fieldManager,
      force: opts.force ?? false,
      dryRun: opts.dryRun,
      fieldValidation: opts.fieldValidation ?? 'Strict',
      signal: opts.signal,
    },
  );
  const result: ApplyResult = !before ? 'created' : deepEqual(before, object) ? 'unchanged' : 'configured';
  return { result, object, kind };
}
