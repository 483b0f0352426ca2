/**
 * The envelope every write body must have, checked before anything else looks at it: an object
 * of the URL's kind and apiVersion, in the URL's namespace (none for a cluster-scoped kind).
 */
import { badRequest, invalid, type KindInfo, type KubeObject } from '@shoal/api';

const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

/** The body as an object of `kind` in `namespace`, apiVersion and kind filled in; 400 or 422 when it is not one. */
export function checkEnvelope(kind: KindInfo, body: unknown, namespace: string | undefined): KubeObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body must be a ${kind.kind} object`);
  const obj = body as KubeObject;
  if (obj.apiVersion !== undefined && obj.apiVersion !== kind.apiVersion)
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${kind.apiVersion})`, [
      { field: 'apiVersion', message: `must be ${kind.apiVersion}` },
    ]);
  if (obj.kind !== undefined && obj.kind !== kind.kind)
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind.kind})`, [
      { field: 'kind', message: `must be ${kind.kind}` },
    ]);
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata))
    throw invalid(target(kind), [{ field: 'metadata', message: 'must be an object', type: 'FieldValueTypeInvalid' }]);
  const ns = obj.metadata.namespace;
  if (kind.namespaced) {
    if (ns !== undefined && ns !== '' && ns !== namespace)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request', [
        { field: 'metadata.namespace', message: `must be ${namespace}` },
      ]);
    obj.metadata.namespace = namespace;
  } else if (ns) {
    throw invalid(target(kind, obj.metadata.name), [
      { field: 'metadata.namespace', message: `${kind.kind} is cluster-scoped: namespace must be empty`, type: 'FieldValueForbidden' },
    ]);
  } else {
    delete obj.metadata.namespace;
  }
  obj.apiVersion = kind.apiVersion;
  obj.kind = kind.kind;
  return obj;
}
