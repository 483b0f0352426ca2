/**
 * Who owns which field of an object (Kubernetes' FieldManager), worked out on every write:
 *
 *  - recordUpdate, for creates, updates, merge and JSON patches: the writer (its fieldManager,
 *    else the start of its User-Agent) comes to own every field it added or changed, and
 *    nobody owns a field any more once it is gone. An object stored without managed fields is
 *    left so (as Kubernetes leaves objects written before it tracked them), until an apply.
 *  - applyConfiguration, for server-side apply: the configuration merged into the live object;
 *    the applier owns exactly the fields its configuration sets; what it set last time and sets
 *    no longer is removed unless another manager owns it; a different value for a field another
 *    manager owns is a conflict (409) unless forced, when the applier takes it over. The same
 *    value as another manager's is shared ownership. kubectl's last-applied annotation, where
 *    there is one, follows what kubectl applied (last-applied.ts).
 *
 * The fields of identity and bookkeeping (name, uid, resourceVersion, ...) are nobody's. A
 * write through /status tracks only status, and one to the object itself everything else, with
 * managers of their own (`subresource: status`), as Kubernetes 1.22 and later do.
 */
import { isDeepStrictEqual } from 'node:util';
import { cloneJson, timestamp, type KindInfo, type KubeObject, type ManagedFieldsEntry } from '@shoal/api';
import { compareObjects } from './compare.js';
import { conflictError, conflictList, ownedBy } from './conflicts.js';
import { FieldSet, type FieldPath } from './field-set.js';
import {
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  isResetRequest,
  managerId,
  storedManagersOf,
  type Manager,
  type Managers,
} from './managed-fields.js';
import { syncLastApplied } from './last-applied.js';
import { mergeConfiguration } from './merge.js';
import { fieldSetOf, removeFields, withNamedFieldsAsMembers } from './object-fields.js';

export interface ManagerRequest {
  kind: KindInfo;
  /** The request's fieldManager, or what its User-Agent names. */
  manager: string;
  subresource?: 'status';
  now?: Date;
}

/** Kubernetes' stripMeta: identity and bookkeeping, set by the server, owned by nobody. */
const SERVER_FIELDS = FieldSet.of(
  ...(
    [
      ['apiVersion'],
      ['kind'],
      ['metadata'],
      ['metadata', 'name'],
      ['metadata', 'namespace'],
      ['metadata', 'uid'],
      ['metadata', 'resourceVersion'],
      ['metadata', 'generation'],
      ['metadata', 'creationTimestamp'],
      ['metadata', 'managedFields'],
      ['metadata', 'selfLink'],
    ] as const
  ).map((p): FieldPath => p.map((f) => `f:${f}`)),
);
const STATUS: FieldPath = ['f:status'];
const STATUS_SET = FieldSet.of(STATUS);

/** The part of a set a request of this kind tracks: status through /status, the rest elsewhere. */
function tracked(set: FieldSet, req: ManagerRequest): FieldSet {
  const owned = set.difference(SERVER_FIELDS);
  if (req.subresource === 'status') return owned.under(STATUS);
  return req.kind.hasStatus ? owned.recursiveDifference(STATUS_SET) : owned;
}

function withoutManagedFields(obj: KubeObject): KubeObject {
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/**
 * The part of an object a write by this request can own, to compare: only status through
 * /status, everything but status elsewhere. What tracked() would drop from the comparison is
 * not walked at all, so a status write of a big object costs its status.
 */
function trackedPart(obj: KubeObject, req: ManagerRequest): Partial<KubeObject> {
  if (req.subresource === 'status') return { status: obj.status } as Partial<KubeObject>;
  const whole = withoutManagedFields(obj);
  if (req.kind.hasStatus) delete (whole as Partial<KubeObject>).status;
  return whole;
}

/** The managers of a stored object; none if what is stored cannot be read (Kubernetes starts afresh then too). */
function storedManagers(kind: KindInfo, obj: KubeObject | undefined): Managers {
  if (!obj?.metadata.managedFields) return new Map();
  try {
    return storedManagersOf(kind, obj.metadata.name, obj.metadata.managedFields);
  } catch {
    return new Map();
  }
}

function store(next: KubeObject, managers: Managers): void {
  const entries = encodeManagedFields(capUpdateManagers(managers));
  if (entries) next.metadata.managedFields = entries;
  else delete next.metadata.managedFields;
}

/** Ownership moves to whoever changed a field; nobody owns a field that is gone. */
function release(managers: Managers, exceptId: string | undefined, changed: FieldSet, removed: FieldSet): void {
  for (const [id, m] of managers) {
    if (id === exceptId) continue;
    m.fields = m.fields.difference(changed).difference(removed);
  }
}

/**
 * The managers a write starts from: the stored ones, unless the write to the object itself
 * replaces them (well-formed entries, taken as they are) or clears them (`[]` or `[{}]`).
 */
function startingManagers(req: ManagerRequest, live: KubeObject | undefined, requested: ManagedFieldsEntry[] | undefined): Managers {
  if (req.subresource) return storedManagers(req.kind, live);
  if (isResetRequest(requested)) return new Map();
  if (requested === undefined || isDeepStrictEqual(requested, live?.metadata.managedFields)) return storedManagers(req.kind, live);
  return decodeManagedFields(req.kind, live?.metadata.name, requested);
}

/** Sets next.metadata.managedFields for a create (live undefined) or an update of live to next. */
export function recordUpdate(req: ManagerRequest, live: KubeObject | undefined, next: KubeObject): void {
  const managers = startingManagers(req, live, next.metadata.managedFields);
  if (live && managers.size === 0) {
    delete next.metadata.managedFields;
    return;
  }
  const c = compareObjects(live && trackedPart(live, req), trackedPart(next, req), req.kind.schema);
  const changed = tracked(c.added.union(c.modified), req);
  release(managers, undefined, changed, tracked(c.removed, req));
  if (!changed.empty) {
    const id = managerId({ manager: req.manager, operation: 'Update', subresource: req.subresource ?? '' });
    const fields = (managers.get(id)?.fields ?? new FieldSet()).union(changed);
    managers.set(id, {
      manager: req.manager,
      operation: 'Update',
      subresource: req.subresource ?? '',
      apiVersion: req.kind.apiVersion,
      time: timestamp(req.now),
      fields,
    });
  }
  store(next, managers);
}

export interface ApplyRequest extends ManagerRequest {
  force: boolean;
}

/** The manager Kubernetes gives the fields of an object no one tracked, when it is first applied to. */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

/**
 * The object an apply of `config` (checked: config-check.ts) to `live` (undefined: it creates)
 * would store, its managedFields set; throws the 409 of the conflicts unless req.force.
 */
export function applyConfiguration(req: ApplyRequest, live: KubeObject | undefined, config: KubeObject): KubeObject {
  const { schema } = req.kind;
  const subresource = req.subresource ?? '';
  const now = timestamp(req.now);
  const managers = storedManagers(req.kind, live);
  // A copy: the live object is the store's (and the watch cache's), never to be changed here.
  const before = live ? cloneJson(withoutManagedFields(live)) : undefined;
  if (before && managers.size === 0) {
    const fields = tracked(compareObjects(undefined, before, schema).added, req);
    const m: Manager = { manager: BEFORE_FIRST_APPLY, operation: 'Update', subresource, apiVersion: req.kind.apiVersion, time: now, fields };
    managers.set(managerId(m), m);
  }

  const applierId = managerId({ manager: req.manager, operation: 'Apply', subresource });
  const previous = managers.get(applierId);
  const configured = fieldSetOf(config, schema);
  managers.set(applierId, { manager: req.manager, operation: 'Apply', subresource, apiVersion: req.kind.apiVersion, fields: tracked(configured, req) });

  let merged = mergeConfiguration(before ?? {}, config, schema) as KubeObject;
  // What the applier set last time and sets no more goes, unless someone (the applier too, by
  // another path) still owns it. The configuration counts whole here, server fields and all, as
  // in Kubernetes (it strips them after the apply), so that the object keeps its metadata; the
  // server fields themselves never go.
  if (previous && !previous.fields.empty) {
    let owned = configured;
    for (const m of managers.values()) owned = owned.union(m.fields);
    const named = (s: FieldSet) => withNamedFieldsAsMembers(s, schema);
    const gone = named(fieldSetOf(merged, schema)).intersection(named(previous.fields)).difference(named(owned)).difference(SERVER_FIELDS);
    if (!gone.empty) merged = removeFields(merged, gone, schema) as KubeObject;
  }

  const c = compareObjects(before, merged, schema);
  const changed = tracked(c.added.union(c.modified), req);
  const taken = ownedBy(managers, applierId, changed);
  if (taken.size > 0 && !req.force) throw conflictError(conflictList(managers, taken));
  release(managers, applierId, changed, tracked(c.removed, req));

  syncLastApplied(req.manager, merged, config);
  const changedObject = !isDeepStrictEqual(before, merged);
  const time = changedObject || !previous?.time ? now : previous.time;
  managers.get(applierId)!.time = time;
  store(merged, managers);
  return merged;
}
