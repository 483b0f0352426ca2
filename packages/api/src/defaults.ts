/**
 * Objects as a client writes them, and the same objects as the apiserver stores them. The
 * generated types (model/) describe the stored form, where every field with a schema default is
 * present; a manifest may leave any field out.
 */
import { kinds } from './kinds.js';
import type { Kinds } from './model/generated.js';
import { API_VERSION } from './objects.js';
import { normalizeObject } from './validation.js';

/** An object as a client may write it: any field may be left out (the schema's defaults fill in the rest). */
export type Manifest<T> = T extends (infer U)[] ? Manifest<U>[] : T extends object ? { [K in keyof T]?: Manifest<T[K]> } : T;

/**
 * A copy of `manifest` as admission would store it: apiVersion and kind set, the schema's
 * defaults filled in, undeclared fields dropped. It does not validate: for tests and tools that
 * build objects without a server, from values they know to be valid.
 */
export function withDefaults<K extends keyof Kinds>(kind: K, manifest: Manifest<Kinds[K]>): Kinds[K] {
  const info = kinds().find(kind);
  if (!info) throw new Error(`withDefaults: no kind ${kind} in schemas/`);
  const object = { ...structuredClone(manifest), apiVersion: API_VERSION, kind } as Kinds[K];
  return normalizeObject(info, object);
}
