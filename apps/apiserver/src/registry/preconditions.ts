/**
 * Optimistic concurrency: a write that names the resourceVersion (or uid) it was made against
 * applies only to that version of the object; otherwise it is 409 Conflict, and the client
 * reads again.
 */
import { ApiError, invalid, type KindInfo, type KubeObject } from '@shoal/api';

const target = (kind: KindInfo, name: string) => ({ kind: kind.kind, group: kind.group, name });

/** 409 Conflict: the caller's copy is older than the stored object. */
export function staleObject(kind: KindInfo, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    {
      name,
      group: kind.group,
      kind: kind.plural,
    },
  );
}

/** A given resourceVersion ("" is none) must be the stored object's: 422 when it cannot be one, 409 when it is another. */
export function checkResourceVersionPrecondition(kind: KindInfo, name: string, given: string | undefined, current: KubeObject): void {
  if (given === undefined || given === '') return;
  if (!/^\d+$/.test(given))
    throw invalid(target(kind, name), [
      {
        field: 'metadata.resourceVersion',
        message: `Invalid value: ${JSON.stringify(given)}: must be a resourceVersion the server returned`,
        type: 'FieldValueInvalid',
      },
    ]);
  if (given !== current.metadata.resourceVersion) throw staleObject(kind, name);
}

/** A given uid must be the stored object's (a delete's precondition, the uid in an update's body). */
export function checkUidPrecondition(kind: KindInfo, name: string, given: string | undefined, current: KubeObject): void {
  if (given && given !== current.metadata.uid)
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${given}, UID in object meta: ${current.metadata.uid}`, {
      name,
      kind: kind.plural,
    });
}

/** An update (PUT) must say which version it replaces. */
export function requireResourceVersion(kind: KindInfo, name: string, body: KubeObject): string {
  const rv = body.metadata?.resourceVersion;
  if (rv === undefined || rv === '')
    throw invalid(target(kind, name), [
      { field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update', type: 'FieldValueInvalid' },
    ]);
  return rv;
}
