/**
 * What the server decides about an object before it is stored: identity and bookkeeping
 * fields are the server's, the rest must satisfy the kind's schema. Pure functions over plain
 * objects, so every rule is tested without a store.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  badRequest,
  invalid,
  normalizeObject,
  validateObject,
  ApiError,
  NAMESPACE_FINALIZER,
  timestamp,
  type KindInfo,
  type KubeObject,
  type StatusCause,
} from '@shoal/api';
import { StoredForm } from '../storage/stored-form.js';
import { checkImmutablePriority } from './priority-admission.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** etcd refuses requests over 1.5 MiB; leave room for the transaction around the value. */
export const MAX_OBJECT_BYTES = 1_400_000;

/** Kinds whose status the server itself sets at creation (no controller owns it). */
const INITIAL_STATUS: Record<string, () => unknown> = {
  Namespace: () => ({ phase: 'Active' }),
};

/** Finalizers the server itself puts on new objects of a kind (see NamespaceLifecycle). */
const INITIAL_FINALIZERS: Record<string, string[]> = {
  Namespace: [NAMESPACE_FINALIZER],
};

export interface Admitted {
  object: KubeObject;
  warnings: string[];
  /** The object serialised for etcd (and, with its resourceVersion, for the response). */
  stored: StoredForm;
}

const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

/** Checks the envelope every write body must have, before anything else looks at it. */
export function checkEnvelope(kind: KindInfo, body: unknown, namespace: string | undefined): KubeObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body must be a ${kind.kind} object`);
  const obj = body as KubeObject;
  if (obj.apiVersion !== undefined && obj.apiVersion !== kind.apiVersion)
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${kind.apiVersion})`, [
      { field: 'apiVersion', message: `must be ${kind.apiVersion}` },
    ]);
  if (obj.kind !== undefined && obj.kind !== kind.kind)
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind.kind})`, [{ field: 'kind', message: `must be ${kind.kind}` }]);
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) throw invalid(target(kind), [{ field: 'metadata', message: 'must be an object', type: 'FieldValueTypeInvalid' }]);
  const ns = obj.metadata.namespace;
  if (kind.namespaced) {
    if (ns !== undefined && ns !== '' && ns !== namespace)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request', [{ field: 'metadata.namespace', message: `must be ${namespace}` }]);
    obj.metadata.namespace = namespace;
  } else if (ns) {
    throw invalid(target(kind, obj.metadata.name), [{ field: 'metadata.namespace', message: `${kind.kind} is cluster-scoped: namespace must be empty`, type: 'FieldValueForbidden' }]);
  } else {
    delete obj.metadata.namespace;
  }
  obj.apiVersion = kind.apiVersion;
  obj.kind = kind.kind;
  return obj;
}

/** Schema validation per the request's fieldValidation, then defaulting and pruning. */
function validateAndDefault(kind: KindInfo, obj: KubeObject, fieldValidation: FieldValidation): string[] {
  const { invalid: bad, unknown } = validateObject(kind, obj);
  if (unknown.length && fieldValidation === 'Strict') {
    throw badRequest(
      `${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u.field}"`).join(', ')}`,
      unknown,
    );
  }
  if (bad.length) throw invalid(target(kind, obj.metadata?.name), bad);
  normalizeObject(kind, obj);
  return fieldValidation === 'Warn' ? unknown.map((u) => `unknown field "${u.field}"`) : [];
}

/** The finished object's stored form, refused when etcd would not take it. Serialised once, here, for the store and the response. */
export function storedForm(kind: KindInfo, obj: KubeObject): StoredForm {
  const stored = StoredForm.of(obj);
  const size = stored.bytes;
  if (size > MAX_OBJECT_BYTES)
    throw new ApiError(413, 'RequestEntityTooLarge', `${kind.kind} "${obj.metadata.name}" is too large: ${size} bytes (the limit is ${MAX_OBJECT_BYTES})`);
  return stored;
}

function generatedName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const bytes = randomBytes(5);
  return prefix + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export function admitCreate(kind: KindInfo, body: unknown, namespace: string | undefined, fieldValidation: FieldValidation, now = new Date()): Admitted {
  const obj = checkEnvelope(kind, body, namespace);
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = generatedName(meta.generateName);
  if (!meta.name)
    throw invalid(target(kind), [{ field: 'metadata.name', message: 'Required value: name or generateName is required', type: 'FieldValueRequired' }]);
  // Identity and bookkeeping are the server's; whatever the client sent there is replaced.
  meta.uid = randomUUID();
  meta.creationTimestamp = timestamp(now);
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.managedFields;
  // Status is written by controllers through /status, never by the creator; some kinds start with one.
  if (kind.hasStatus) {
    delete obj.status;
    const initial = INITIAL_STATUS[kind.kind];
    if (initial) obj.status = initial();
  }
  for (const f of INITIAL_FINALIZERS[kind.kind] ?? []) if (!(meta.finalizers ?? []).includes(f)) meta.finalizers = [...(meta.finalizers ?? []), f];
  const warnings = validateAndDefault(kind, obj, fieldValidation);
  return { object: obj, warnings, stored: storedForm(kind, obj) };
}

/** Everything except metadata and status: a change here is a new generation. */
function desiredState(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

export interface UpdateRequest {
  kind: KindInfo;
  namespace?: string;
  name: string;
  body: unknown;
  current: KubeObject;
  subresource?: 'status';
  fieldValidation: FieldValidation;
}

export function admitUpdate(req: UpdateRequest): Admitted {
  const { kind, current } = req;
  const incoming = checkEnvelope(kind, req.body, req.namespace);
  const meta = incoming.metadata;
  if (meta.name !== undefined && meta.name !== req.name)
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${req.name})`, [{ field: 'metadata.name', message: `must be ${req.name}` }]);
  if (meta.uid && meta.uid !== current.metadata.uid)
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${current.metadata.uid}`, {
      name: req.name,
      kind: kind.kind,
    });

  let next: KubeObject;
  if (req.subresource === 'status') {
    // The status endpoint changes status only; a controller cannot rewrite the spec by accident.
    next = { ...structuredClone(current), status: incoming.status };
  } else {
    next = { ...incoming, metadata: { ...incoming.metadata } };
    if (kind.hasStatus) {
      if (current.status === undefined) delete next.status;
      else next.status = structuredClone(current.status);
    }
    const m = next.metadata;
    m.name = req.name;
    m.uid = current.metadata.uid;
    m.creationTimestamp = current.metadata.creationTimestamp;
    m.generation = current.metadata.generation;
    delete m.managedFields;
    if (current.metadata.deletionTimestamp) {
      m.deletionTimestamp = current.metadata.deletionTimestamp;
      m.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
      const added = (m.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length)
        throw invalid(target(kind, req.name), [
          { field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`, type: 'FieldValueForbidden' },
        ]);
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
  }
  next.metadata.resourceVersion = current.metadata.resourceVersion;
  const warnings = validateAndDefault(kind, next, req.fieldValidation);
  // Before the generation is decided: it may fill in fields the body left out.
  checkImmutablePriority(kind, next, current);
  if (desiredState(next) !== desiredState(current)) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
  return { object: next, warnings, stored: storedForm(kind, next) };
}

/** 409 Conflict: the caller's copy is older than the stored object. */
export function staleObject(kind: KindInfo, name: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
    name,
    group: kind.group,
    kind: kind.plural,
  });
}

export function checkResourceVersionPrecondition(kind: KindInfo, name: string, given: string | undefined, current: KubeObject): void {
  if (given === undefined || given === '') return;
  if (!/^\d+$/.test(given))
    throw invalid(target(kind, name), [{ field: 'metadata.resourceVersion', message: `Invalid value: ${JSON.stringify(given)}: must be a resourceVersion the server returned`, type: 'FieldValueInvalid' }]);
  if (given !== current.metadata.resourceVersion)
    throw staleObject(kind, name);
}

export function requireResourceVersion(kind: KindInfo, name: string, body: KubeObject): string {
  const rv = body.metadata?.resourceVersion;
  if (rv === undefined || rv === '')
    throw invalid(target(kind, name), [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update', type: 'FieldValueInvalid' }]);
  return rv;
}

export function parseFieldValidation(v: unknown): FieldValidation {
  if (v === undefined || v === '') return 'Strict';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation must be one of Strict, Warn, Ignore; got ${JSON.stringify(v)}`, [{ field: 'fieldValidation', message: 'Unsupported value' }]);
}

export type { StatusCause };
