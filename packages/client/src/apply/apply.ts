/**
 * Client-side apply, as `kubectl apply` does it without server-side apply: create the object if
 * it is missing, else send the three-way merge patch between the last applied manifest, this
 * manifest and the live object. The patch carries the live resourceVersion as a precondition,
 * because it was computed from that version: if someone wrote in between, the server answers
 * 409 Conflict and we recompute from a fresh read instead of undoing their write.
 */
import { ApiError, type KindInfo, type KubeObject, type Manifest } from '@shoal/api';
import type { ShoalClient, WriteOptions } from '../client.js';
import { resolveKind } from '../kind-lookup.js';
import { readLastApplied, withLastApplied } from './last-applied.js';
import { threeWayMergePatch, type JsonObject } from './three-way-merge.js';

export type ApplyResult = 'created' | 'configured' | 'unchanged';

export interface ApplyOptions {
  /** For manifests that name no namespace. */
  namespace?: string;
  /** Strict by default: a misspelt field is an error, not silently dropped. */
  fieldValidation?: WriteOptions['fieldValidation'];
  /** Who the writes are credited to in managedFields (the server takes the User-Agent's name otherwise). */
  fieldManager?: string;
  /** Attempts when other writers keep winning the race. */
  maxAttempts?: number;
  signal?: AbortSignal;
}

export interface Applied<T extends KubeObject = KubeObject> {
  result: ApplyResult;
  object: T;
  kind: KindInfo;
}

/** A manifest that cannot be applied whatever the server holds. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export function kindOfManifest(manifest: KubeObject): KindInfo {
  if (!manifest.kind) throw new ManifestError('object has no kind');
  let kind: KindInfo;
  try {
    kind = resolveKind(manifest.kind);
  } catch {
    throw new ManifestError(`no matches for kind "${manifest.kind}" in version "${manifest.apiVersion ?? ''}"`);
  }
  if (kind.kind !== manifest.kind || (manifest.apiVersion !== undefined && manifest.apiVersion !== kind.apiVersion)) {
    throw new ManifestError(`no matches for kind "${manifest.kind}" in version "${manifest.apiVersion ?? ''}" (did you mean ${kind.apiVersion} ${kind.kind}?)`);
  }
  return kind;
}

export async function applyManifest<T extends KubeObject = KubeObject>(
  client: ShoalClient,
  manifest: KubeObject,
  opts: ApplyOptions = {},
): Promise<Applied<T>> {
  const kind = kindOfManifest(manifest);
  const name = manifest.metadata?.name;
  if (!name) throw new ManifestError(`${kind.kind} has no metadata.name (apply needs a name to find the object again)`);
  const namespace = kind.namespaced ? manifest.metadata.namespace || opts.namespace || undefined : undefined;
  const write = { namespace, fieldValidation: opts.fieldValidation ?? 'Strict', fieldManager: opts.fieldManager, signal: opts.signal } as const;
  const { annotated } = withLastApplied({ apiVersion: kind.apiVersion, ...manifest });
  const maxAttempts = opts.maxAttempts ?? 5;

  for (let attempt = 1; ; attempt++) {
    let patching = false;
    try {
      const live = await getOrUndefined<T>(client, kind, name, namespace, opts.signal);
      if (!live) {
        const object = await client.create<T>(kind, annotated as Manifest<T>, write);
        return { result: 'created', object, kind };
      }
      const patch = threeWayMergePatch(readLastApplied(live), annotated, live as unknown as JsonObject);
      if (Object.keys(patch).length === 0) return { result: 'unchanged', object: live, kind };
      const precondition = { ...patch, metadata: { ...(patch.metadata as JsonObject | undefined), resourceVersion: live.metadata.resourceVersion ?? null } };
      patching = true;
      const object = await client.patch<T>(kind, name, precondition, { ...write, type: 'merge' });
      return { result: 'configured', object, kind };
    } catch (err) {
      // Conflict: someone wrote since our read. AlreadyExists: someone created it since our read.
      // NotFound on the patch: someone deleted it since our read. Each time, read again and redo.
      const raced = err instanceof ApiError && (err.reason === 'Conflict' || err.reason === 'AlreadyExists' || (err.code === 404 && patching));
      if (!raced || attempt >= maxAttempts) throw err;
    }
  }
}

async function getOrUndefined<T extends KubeObject>(
  client: ShoalClient,
  kind: KindInfo,
  name: string,
  namespace: string | undefined,
  signal?: AbortSignal,
): Promise<T | undefined> {
  try {
    return await client.get<T>(kind, name, { namespace, signal });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}
