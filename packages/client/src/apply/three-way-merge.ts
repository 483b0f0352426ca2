/**
 * The JSON merge patch (RFC 7386) that client-side apply sends, computed like kubectl's
 * CreateThreeWayJSONMergePatch from three versions of an object:
 *
 *   original  what this user applied last time (the last-applied annotation), or undefined
 *   modified  what this user applies now
 *   current   what the server holds now
 *
 * - a field in `modified` that differs from `current` is set;
 * - a field in `original` but no longer in `modified` is deleted (null) — the user removed it;
 * - a field only in `current` (status, a label another client added, spec.nodeName written by
 *   the scheduler) belongs to someone else and is left alone.
 * Arrays are atomic in a merge patch: a changed array is sent whole.
 */
import { applyMergePatch, isJsonObject, type Json, type JsonObject } from '@shoal/api';

export { applyMergePatch, isJsonObject, type Json, type JsonObject };

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function threeWayMergePatch(original: JsonObject | undefined, modified: JsonObject, current: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const [key, want] of Object.entries(modified)) {
    const have = current[key];
    if (want === null) {
      // An explicit null in a manifest asks for the field to be gone.
      if (have !== undefined) patch[key] = null;
    } else if (isJsonObject(want) && isJsonObject(have)) {
      const before = original?.[key];
      const sub = threeWayMergePatch(isJsonObject(before) ? before : undefined, want, have);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!deepEqual(want, have)) {
      patch[key] = want;
    }
  }
  for (const key of Object.keys(original ?? {})) {
    if (!Object.hasOwn(modified, key) && current[key] !== undefined) patch[key] = null;
  }
  return patch;
}
