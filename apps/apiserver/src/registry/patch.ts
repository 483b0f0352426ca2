/**
 * The patch formats the API accepts, and how merge and JSON patches change an object. Server-side
 * apply (`application/apply-patch+yaml`) is not a patch of the object but a configuration
 * merged with ownership of fields: apply/field-manager.ts.
 */
import fastJsonPatch from 'fast-json-patch';
import { cloneJson, ApiError, badRequest, type KubeObject } from '@shoal/api';
import { applyMergePatch, type Json } from '@shoal/api';

export const PATCH_TYPES = {
  'application/merge-patch+json': 'merge',
  // Strategic merge needs per-field merge keys; for Shoal's schemas plain merge semantics are
  // what clients expect (maps merge, lists replace), so it is served as a merge patch.
  'application/strategic-merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/apply-patch+yaml': 'apply',
} as const;

export type PatchType = (typeof PATCH_TYPES)[keyof typeof PATCH_TYPES];

export function patchTypeOf(contentType: string | undefined): PatchType {
  const base = (contentType ?? '').split(';')[0]!.trim().toLowerCase() as keyof typeof PATCH_TYPES;
  const type = PATCH_TYPES[base];
  if (!type)
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
    );
  return type;
}

export function applyPatch(current: KubeObject, type: Exclude<PatchType, 'apply'>, patch: unknown): unknown {
  if (type === 'merge') {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw badRequest('a merge patch must be a JSON object');
    return applyMergePatch(current as unknown as Json, patch as Json);
  }
  if (!Array.isArray(patch)) throw badRequest('a JSON patch must be an array of operations');
  let error: ReturnType<typeof fastJsonPatch.validate>;
  try {
    error = fastJsonPatch.validate(patch as fastJsonPatch.Operation[], current);
  } catch (err) {
    // fast-json-patch throws (rather than returns) for paths through __proto__ or constructor/prototype.
    throw badRequest(`invalid JSON patch: ${(err as Error).message.split('\n')[0]!.split('. ')[0]}`, [{ field: 'patch', message: 'path not allowed' }]);
  }
  if (error) throw badRequest(`invalid JSON patch: ${error.message.split('\n')[0]}`, [{ field: `patch[${error.index}]`, message: error.name }]);
  try {
    return fastJsonPatch.applyPatch(cloneJson(current), patch as fastJsonPatch.Operation[], false, false).newDocument;
  } catch (err) {
    throw new ApiError(422, 'Invalid', `the JSON patch could not be applied: ${(err as Error).message.split('\n')[0]}`);
  }
}
