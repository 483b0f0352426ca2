/** The stored form of a finished object, refused when etcd would not take it. */
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import { StoredForm } from '../storage/stored-form.js';

/** etcd refuses requests over 1.5 MiB; leave room for the transaction around the value. */
export const MAX_OBJECT_BYTES = 1_400_000;

/**
 * Serialised once, here, for the store and the response, once its managed fields are set: too
 * big is judged on what would be stored. Nothing is measured before the fields are tracked, as
 * the request body limit bounds what tracking an oversized object costs to about what one at
 * the limit costs.
 */
export function storedForm(kind: KindInfo, obj: KubeObject): StoredForm {
  const stored = StoredForm.of(obj);
  const size = stored.bytes;
  if (size > MAX_OBJECT_BYTES)
    throw new ApiError(413, 'RequestEntityTooLarge', `${kind.kind} "${obj.metadata.name}" is too large: ${size} bytes (the limit is ${MAX_OBJECT_BYTES})`);
  return stored;
}
