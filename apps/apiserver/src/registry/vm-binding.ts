/**
 * The `binding` subresource of VirtualMachines, as Kubernetes' pods/binding: how the scheduler
 * assigns a VM to a node. One write sets spec.nodeName and the Scheduled status together, so no
 * watcher ever sees a VM bound without saying so (or the other way round), and the
 * compare-and-swap on the stored object makes two schedulers racing for one VM bind it once.
 * Pure functions here; ResourceService.bind does the read-modify-write.
 */
import { API_VERSION, badRequest, conflict, invalid, type Condition, type KindInfo, type KubeObject, type Status, type StatusCause } from '@shoal/api';

export interface Binding {
  nodeName: string;
  /** Bind only if the VM is still at this resourceVersion. */
  resourceVersion?: string;
}

/** A node's name is an object name: a DNS subdomain (meta/object-meta.json). */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'target']);
const TARGET_FIELDS = new Set(['name', 'kind', 'apiVersion']);

const target = (kind: KindInfo, name: string) => ({ kind: kind.kind, group: kind.group, name });
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks a Binding body for the VM `name` in `namespace`: 400 for a body of the wrong shape or for another object, 422 for bad values. */
export function parseBinding(kind: KindInfo, namespace: string, name: string, body: unknown): Binding {
  if (!isObject(body)) throw badRequest('the body must be a Binding object');
  if (body.apiVersion !== undefined && body.apiVersion !== API_VERSION)
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${API_VERSION})`, [{ field: 'apiVersion', message: `must be ${API_VERSION}` }]);
  if (body.kind !== undefined && body.kind !== 'Binding') throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (Binding)`, [{ field: 'kind', message: 'must be Binding' }]);
  const unknown = [
    ...Object.keys(body).filter((k) => !TOP_LEVEL.has(k)),
    ...(isObject(body.target) ? Object.keys(body.target).filter((k) => !TARGET_FIELDS.has(k)).map((k) => `target.${k}`) : []),
  ];
  if (unknown.length)
    throw badRequest(`Binding in version "v1alpha1" cannot be handled as a Binding: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`, unknown.map((field) => ({ field, message: 'field not declared in schema', type: 'FieldValueNotSupported' })));

  const meta = body.metadata === undefined || body.metadata === null ? {} : body.metadata;
  if (!isObject(meta)) throw invalid(target(kind, name), [{ field: 'metadata', message: 'must be an object', type: 'FieldValueTypeInvalid' }]);
  if (meta.name !== undefined && meta.name !== name)
    throw badRequest(`the name of the Binding (${String(meta.name)}) does not match the name on the URL (${name})`, [{ field: 'metadata.name', message: `must be ${name}` }]);
  if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace)
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request', [{ field: 'metadata.namespace', message: `must be ${namespace}` }]);

  const causes: StatusCause[] = [];
  const t = body.target;
  const nodeName = isObject(t) ? t.name : undefined;
  if (!isObject(t)) causes.push({ field: 'target', type: 'FieldValueRequired', message: 'Required value: the node to bind to, as {"name": NODE}' });
  else if (nodeName === undefined || nodeName === '') causes.push({ field: 'target.name', type: 'FieldValueRequired', message: 'Required value: the name of the node to bind to' });
  else if (typeof nodeName !== 'string' || nodeName.length > 253 || !NODE_NAME.test(nodeName))
    causes.push({ field: 'target.name', type: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(nodeName)}: must be a node name (a DNS subdomain of at most 253 characters)` });
  if (isObject(t) && t.kind !== undefined && t.kind !== 'Node') causes.push({ field: 'target.kind', type: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(t.kind)}: supported values: "Node"` });
  const rv = meta.resourceVersion;
  if (rv !== undefined && typeof rv !== 'string') causes.push({ field: 'metadata.resourceVersion', type: 'FieldValueTypeInvalid', message: `Invalid value: ${JSON.stringify(rv)}: must be a string` });
  if (causes.length) throw invalid(target(kind, name), causes);
  return { nodeName: nodeName as string, ...(rv ? { resourceVersion: rv as string } : {}) };
}

interface VmSpec {
  nodeName?: string;
}

/** The finalizer through which a node agent holds a VM's deletion until its guest is gone. */
export const AGENT_FINALIZER = 'shoal.dev/agent';

interface VmStatus {
  phase?: string;
  nodeName?: string;
  nominatedNodeName?: string;
  reason?: string;
  message?: string;
  conditions?: Condition[];
}

/**
 * The VM bound to `nodeName`: a new object, or undefined when it is already bound there (a
 * retried bind succeeds without writing, so a status the agent has moved on since is kept).
 * 409 when it is bound elsewhere or being deleted.
 */
export function boundVm(kind: KindInfo, current: KubeObject, nodeName: string, now: Date): KubeObject | undefined {
  const name = current.metadata.name!;
  const spec = (current.spec ?? {}) as VmSpec;
  if (current.metadata.deletionTimestamp) throw conflict(target(kind, name), `${kind.singular} ${name} is being deleted`);
  if (spec.nodeName === nodeName) return undefined;
  if (spec.nodeName) throw conflict(target(kind, name), `${kind.singular} ${name} is already bound to node ${spec.nodeName}`);

  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const message = `assigned to ${nodeName}`;
  const old = (current.status ?? {}) as VmStatus & Record<string, unknown>;
  const previous = old.conditions?.find((c) => c.type === 'Scheduled');
  const scheduled: Condition = {
    type: 'Scheduled',
    status: 'True',
    reason: 'Scheduled',
    message,
    // A transition time says when the status last changed, so a condition that was already True keeps its own.
    lastTransitionTime: previous?.status === 'True' && previous.lastTransitionTime ? previous.lastTransitionTime : time,
  };
  const { nominatedNodeName: _, ...kept } = old;
  const status: VmStatus = {
    ...kept,
    phase: 'Scheduled',
    nodeName,
    reason: 'Scheduled',
    message,
    conditions: [...(old.conditions ?? []).filter((c) => c.type !== 'Scheduled'), scheduled],
  };
  // The node agent's finalizer goes on with the bind, in the same write: from the moment a VM
  // is bound, deleting it waits for the agent to stop its guest — there is no window in which
  // a delete could complete while the agent is starting it — and the agent saves a write.
  const finalizers = current.metadata.finalizers ?? [];
  // spec.nodeName is the spec: a new generation, as any spec change is.
  return {
    ...current,
    metadata: {
      ...current.metadata,
      generation: (current.metadata.generation ?? 0) + 1,
      finalizers: finalizers.includes(AGENT_FINALIZER) ? finalizers : [...finalizers, AGENT_FINALIZER],
    },
    spec: { ...(current.spec as object), nodeName },
    status,
  };
}

/** What a successful bind answers, as Kubernetes does for pods/binding: 201 and a Status, not the object. */
export function bindingSucceeded(): Omit<Status, 'message'> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
