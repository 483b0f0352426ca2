/** The annotation where client-side apply remembers what it applied, as kubectl names it (so both tools share it). */
import type { KubeObject } from '@shoal/api';
import { isJsonObject, type JsonObject } from './three-way-merge.js';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The manifest as it will be stored: without an old copy of the annotation, which would nest forever. */
function manifestOnly(manifest: KubeObject): JsonObject {
  const copy = structuredClone(manifest) as unknown as JsonObject & { metadata: JsonObject };
  const annotations = copy.metadata.annotations;
  if (isJsonObject(annotations)) {
    delete annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(annotations).length === 0) delete copy.metadata.annotations;
  }
  return copy;
}

/** The manifest to send: itself plus the annotation recording it. */
export function withLastApplied(manifest: KubeObject): { annotated: JsonObject; lastApplied: JsonObject } {
  const lastApplied = manifestOnly(manifest);
  const annotated = structuredClone(lastApplied) as JsonObject & { metadata: JsonObject };
  annotated.metadata.annotations = {
    ...(isJsonObject(annotated.metadata.annotations) ? annotated.metadata.annotations : {}),
    [LAST_APPLIED_ANNOTATION]: JSON.stringify(lastApplied),
  };
  return { annotated, lastApplied };
}

/** What was applied last time, or undefined when the object was never applied (or the annotation is unreadable). */
export function readLastApplied(live: KubeObject): JsonObject | undefined {
  const raw = live.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
