/**
 * The body of a bind (`POST .../virtualmachines/{name}/binding`): a Binding, as Kubernetes'
 * pods/binding, checked against schemas/options/binding.json. 400 for a body that is not a
 * Binding of this VM (the wrong shape, kind or apiVersion, fields the schema does not declare, a
 * name or namespace other than the URL's), 422 naming the field for a bad value.
 */
import { API_VERSION, badRequest, invalid, validateOptions, type Binding, type KindInfo } from '@shoal/api';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function parseBinding(vmKind: KindInfo, namespace: string, name: string, body: unknown): Binding {
  const { invalid: causes, unknown } = validateOptions('Binding', body);
  const wrong = (field: string) => causes.some((c) => c.field === field);
  if (wrong('')) throw badRequest('the body must be a Binding object');
  const b = body as Record<string, unknown>;
  if (wrong('apiVersion'))
    throw badRequest(`the API version in the data (${String(b.apiVersion)}) does not match the expected API version (${API_VERSION})`, [
      { field: 'apiVersion', message: `must be ${API_VERSION}` },
    ]);
  if (wrong('kind'))
    throw badRequest(`the kind in the data (${String(b.kind)}) does not match the expected kind (Binding)`, [{ field: 'kind', message: 'must be Binding' }]);
  if (unknown.length)
    throw badRequest(
      `Binding in version "v1alpha1" cannot be handled as a Binding: strict decoding error: ${unknown.map((u) => `unknown field "${u.field}"`).join(', ')}`,
      unknown,
    );
  // Another object than the URL's is the wrong request, not a bad value (whatever type the name has).
  const meta = isObject(b.metadata) ? b.metadata : {};
  if (meta.name !== undefined && meta.name !== name)
    throw badRequest(`the name of the Binding (${String(meta.name)}) does not match the name on the URL (${name})`, [
      { field: 'metadata.name', message: `must be ${name}` },
    ]);
  if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace)
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request', [
      { field: 'metadata.namespace', message: `must be ${namespace}` },
    ]);
  if (causes.length) throw invalid({ kind: vmKind.kind, group: vmKind.group, name }, causes);
  return body as Binding;
}

/** The most binds one BindingList may carry (schemas/options/binding-list.json says the same). */
export const MAX_BINDINGS = 1000;

/** One item of a bulk bind: which VirtualMachine, and its Binding. */
export interface NamedBinding {
  namespace: string;
  name: string;
  binding: Binding;
}

/**
 * The body of a bulk bind (`POST /apis/shoal.dev/v1alpha1/bindings`): a BindingList, checked
 * against schemas/options/binding-list.json. 400 for a body that is not one (the wrong shape,
 * kind or apiVersion, undeclared fields, more than MAX_BINDINGS items); 422 naming the field
 * (`items[3].metadata.name`) for a bad value or an item that does not say which VM it binds.
 * A bad body binds nothing.
 */
export function parseBindingList(vmKind: KindInfo, body: unknown): NamedBinding[] {
  const { invalid: causes, unknown } = validateOptions('BindingList', body);
  const wrong = (field: string) => causes.some((c) => c.field === field);
  if (wrong('') || wrong('items')) throw badRequest(`the body must be a BindingList with at most ${MAX_BINDINGS} items`, causes);
  const b = body as Record<string, unknown>;
  if (wrong('apiVersion') || wrong('kind')) throw badRequest(`the body must be a BindingList of ${API_VERSION}`, causes);
  if (unknown.length)
    throw badRequest(
      `BindingList in version "v1alpha1" cannot be handled as a BindingList: strict decoding error: ${unknown.map((u) => `unknown field "${u.field}"`).join(', ')}`,
      unknown,
    );
  const items = b.items as Binding[];
  items.forEach((item, i) => {
    for (const field of ['namespace', 'name'] as const)
      if (typeof item.metadata?.[field] !== 'string' || item.metadata[field] === '')
        causes.push({
          field: `items[${i}].metadata.${field}`,
          type: 'FieldValueRequired',
          message: `Required value: the ${field} of the VirtualMachine to bind`,
        });
  });
  if (causes.length) throw invalid({ kind: 'BindingList', group: vmKind.group, name: '' }, causes);
  return items.map((binding) => ({ namespace: binding.metadata!.namespace!, name: binding.metadata!.name!, binding }));
}
