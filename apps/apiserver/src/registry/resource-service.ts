/**
 * The verbs of the API over the store and the watch cache: get, list, watch, create, update,
 * patch, delete, bind. Routes translate HTTP into these calls; everything here speaks objects and
 * ApiErrors. The verbs are the same for every kind: what differs per kind is its strategy
 * (strategy.ts), called at fixed points; rules that read other objects are admission (admission/).
 *
 * A write goes, on every attempt, as kube-apiserver's does: the object prepared (identity,
 * bookkeeping, the strategy's own fields) → mutating admission → schema validation and defaulting
 * → the strategy's checks → validating admission → one compare-and-swap in etcd, carrying the
 * guards of everything admission read. A guard that fails means something admission read has
 * changed: the write is admitted again from fresh reads. Just before it is stored, the field
 * manager records who owns which field (apply/field-manager.ts); a server-side apply works out the
 * object to write from the configuration and that ownership first, then goes the same way.
 */
import {
  alreadyExists,
  ApiError,
  cloneJson,
  matchesFields,
  matchesSelector,
  notFound,
  timestamp,
  type Binding,
  type KindInfo,
  type KubeList,
  type KubeObject,
} from '@shoal/api';
import type { AdmissionAttributes } from '../admission/admission.js';
import { AdmissionChain, type WriteAdmission } from '../admission/admission-chain.js';
import type { ObjectStore, WriteGuard } from '../storage/object-store.js';
import { encode } from '../storage/object-store.js';
import { StoredForm } from '../storage/stored-form.js';
import type { StoredObject } from '../storage/stored-value.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { objectKeyPath } from '../storage/keys.js';
import type { DeleteOptionsBody } from './delete-options.js';
import { checkEnvelope } from './object-envelope.js';
import { storedForm } from './object-size.js';
import { checkResourceVersionPrecondition, checkUidPrecondition, requireResourceVersion, staleObject } from './preconditions.js';
import { finishCreate, prepareCreate } from './prepare-create.js';
import { finishUpdate, prepareUpdate } from './prepare-update.js';
import { validateAndDefault, type FieldValidation } from './schema-validation.js';
import { strategyFor } from './kind-strategies.js';
import { applyPatch, type PatchType } from './patch.js';
import { applyConfiguration, recordUpdate } from './apply/field-manager.js';
import { keepTimesOfUnchangedWrite } from './apply/managed-fields.js';
import { checkConfiguration } from './apply/config-check.js';
import { isApplyConflict } from './apply/conflicts.js';
import { listFromCache, listFromEtcd, type ListQuery, type StoredList } from './resource-list.js';
import { checkResourceVersionParam } from './resource-version.js';
import { ResourceWatch, type WatchRequest, type WatchSink } from './resource-watch.js';

export type { ListQuery } from './resource-list.js';

export interface Scope {
  kind: KindInfo;
  namespace?: string;
  name: string;
  subresource?: 'status';
}

export interface WriteOptions {
  fieldValidation: FieldValidation;
  dryRun: boolean;
  /** Who the write is credited to in managedFields; the apiserver itself when not given. */
  fieldManager?: string;
}

export interface ApplyOptions extends WriteOptions {
  fieldManager: string;
  /** Take over the fields other managers own instead of failing with their conflicts. */
  force: boolean;
}

/** Sets managedFields on the object about to be stored: from what the write changed, or as an apply worked them out. */
type TrackFields = (live: KubeObject | undefined, next: KubeObject) => void;

/** The manager of writes the apiserver makes itself (built-in namespaces, bootstrap policy). */
export const APISERVER_MANAGER = 'shoal-apiserver';

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** `object` as JSON, when the write already serialised it (the route sends this instead of serialising again). */
  json?: string;
}

/** An attempt whose write etcd refused only because an admission guard failed. */
const GUARD_FAILED = Symbol('guard failed');

/** How often a write whose guards failed is admitted again before the client is told to retry. */
const GUARD_RETRIES = 5;

/** Patches without a resourceVersion retry on conflicts this many times, as Kubernetes' GuaranteedUpdate does. */
const PATCH_CONFLICT_RETRIES = 5;

const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

export class ResourceService {
  constructor(
    private readonly store: ObjectStore,
    private readonly cache: WatchCache,
    private readonly admission = new AdmissionChain(),
  ) {}

  private key(s: Scope): string {
    return objectKeyPath(s.kind, s.namespace, s.name);
  }

  private async load(s: Scope): Promise<StoredObject> {
    return (await this.store.get(this.key(s))) ?? missing(s);
  }

  async get(s: Scope): Promise<KubeObject> {
    return (await this.load(s)).object;
  }

  async list(kind: KindInfo, q: ListQuery): Promise<KubeList> {
    const { metadata, items } = await this.listStored(kind, q);
    return { apiVersion: kind.apiVersion, kind: kind.listKind, metadata, items: items.map((s) => s.object) };
  }

  /** A list as stored objects, which a response can write out from their stored JSON (list-response.ts). */
  listStored(kind: KindInfo, q: ListQuery): Promise<StoredList> {
    checkResourceVersionParam(q.resourceVersion);
    const matches = (o: KubeObject) => matchesSelector(q.labels, o.metadata.labels) && matchesFields(q.fields, o);
    if (!q.limit && !q.continueToken) return listFromCache(this.store, this.cache, kind, q, matches);
    return listFromEtcd(this.store, kind, q, matches);
  }

  /**
   * A watch of a kind's changes, from the watch cache (and, for history older than its window,
   * from the store): not started yet, so the caller can get ready to stream first.
   */
  watch(req: WatchRequest, sink: WatchSink): ResourceWatch {
    checkResourceVersionParam(req.resourceVersion);
    return new ResourceWatch(this.cache, this.store, req, sink);
  }

  async create(kind: KindInfo, namespace: string | undefined, body: unknown, opts: WriteOptions, track?: TrackFields): Promise<WriteResult> {
    const object = prepareCreate(kind, body, namespace);
    track ??= updateTracker({ kind }, opts, object.metadata.managedFields);
    const name = object.metadata.name!;
    const key = objectKeyPath(kind, namespace, name);
    let warnings: string[] | undefined;
    return this.admitted({ operation: 'create', kind, namespace, object }, name, async (admission, fresh) => {
      const guards = await admission.mutate(fresh);
      // Validated after mutating admission, so what admission filled in is checked with the rest.
      const found = validateAndDefault(kind, object, opts.fieldValidation);
      warnings ??= found;
      finishCreate(kind, object);
      track(undefined, object);
      guards.push(...(await admission.validate(fresh)));
      const stored = storedForm(kind, object);
      if (opts.dryRun) {
        if (await this.store.get(key)) throw alreadyExists(target(kind, name));
        return { object, warnings };
      }
      const res = await this.store.create(key, stored.value, guards);
      if (res.ok) return this.written(key, object, warnings, stored, res.revision);
      if (!res.guardFailed) throw alreadyExists(target(kind, name));
      return GUARD_FAILED;
    });
  }

  async update(s: Scope, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const incoming = checkEnvelope(s.kind, body, s.namespace);
    const rv = requireResourceVersion(s.kind, s.name, incoming);
    const current = await this.load(s);
    checkResourceVersionPrecondition(s.kind, s.name, rv, current.object);
    return this.replace(s, current, incoming, opts);
  }

  /**
   * Server-side apply: creates the object from the configuration when there is none (not
   * through /status), else merges it into the current one with the ownership of fields, and
   * stores the result as an update. Retried on a concurrent write, as patches are, unless the
   * configuration names a resourceVersion.
   */
  async apply(s: Scope, body: unknown, opts: ApplyOptions): Promise<WriteResult & { created: boolean }> {
    const checked = checkConfiguration({ ...s, fieldValidation: opts.fieldValidation }, body);
    const { config } = checked;
    const pinned = config.metadata.resourceVersion;
    const req = { kind: s.kind, manager: opts.fieldManager, subresource: s.subresource, force: opts.force };
    const withWarnings = (r: WriteResult, created: boolean) => ({ ...r, warnings: [...checked.warnings, ...r.warnings], created });
    for (let attempt = 0; ; attempt++) {
      const current = await this.store.get(this.key(s));
      try {
        if (!current) {
          if (s.subresource) throw notFound(target(s.kind, s.name));
          if (pinned || config.metadata.uid) throw nothingToPin(s.kind, s.name, pinned ? 'a resourceVersion' : `uid ${config.metadata.uid}`);
          const { object, managedFields } = withoutManaged(applyConfiguration(req, undefined, config));
          const created = await this.create(s.kind, s.namespace, object, opts, (_live, next) => setManaged(next, managedFields));
          return withWarnings(created, true);
        }
        checkResourceVersionPrecondition(s.kind, s.name, pinned, current.object);
        const { object, managedFields } = withoutManaged(applyConfiguration(req, current.object, config));
        const updated = await this.replace(s, current, object, opts, (_live, next) => setManaged(next, managedFields));
        return withWarnings(updated, false);
      } catch (err) {
        // Someone created, changed or deleted the object since it was read: apply to what is there now.
        const raced =
          err instanceof ApiError && (err.reason === 'AlreadyExists' || (err.reason === 'Conflict' && !isApplyConflict(err)) || (err.code === 404 && current));
        if (!raced || pinned || attempt >= PATCH_CONFLICT_RETRIES) throw err;
      }
    }
  }

  async patch(s: Scope, type: PatchType, patch: unknown, opts: WriteOptions): Promise<WriteResult> {
    // A patch that names a resourceVersion is a precondition; one that does not applies to
    // whatever is current, retrying on conflicts.
    if (type === 'apply') throw new Error('server-side apply goes through apply(), not patch()');
    const pinned = patchPinsVersion(patch);
    for (let attempt = 0; ; attempt++) {
      // The first attempt patches the watch cache's copy: the compare-and-swap makes a stale copy
      // a conflict, retried from etcd, never a lost write — and a patch costs no read of etcd.
      // Not for a dry run (no swap would catch a stale copy) nor a JSON patch that tests the version.
      const fromCache = attempt === 0 && !opts.dryRun && !(pinned && Array.isArray(patch));
      const current = (fromCache ? await this.cachedOrStored(s, pinnedVersion(patch)) : await this.load(s)) ?? missing(s);
      const patched = applyPatch(patchBase(current.object, type, s.subresource), type, patch) as KubeObject;
      checkResourceVersionPrecondition(s.kind, s.name, patched?.metadata?.resourceVersion, current.object);
      try {
        const result = await this.replace(s, current, patched, opts);
        // "Nothing to change" judged on a copy that may be stale: only etcd's version can say so.
        if (fromCache && result.object === current.object) continue;
        return result;
      } catch (err) {
        const conflict = err instanceof ApiError && err.reason === 'Conflict';
        if (!conflict || pinned || attempt >= PATCH_CONFLICT_RETRIES) throw err;
      }
    }
  }

  /** An update of `current` to `body` (a PUT's, or a patch's result); the last finalizer leaving an object being deleted removes it. */
  private async replace(s: Scope, current: StoredObject, body: unknown, opts: WriteOptions, track?: TrackFields): Promise<WriteResult> {
    const next = prepareUpdate({ ...s, body, current: current.object });
    track ??= updateTracker(s, opts, next.metadata.managedFields);
    let warnings: string[] | undefined;
    return this.admitted(
      { operation: 'update', kind: s.kind, namespace: s.namespace, object: next, oldObject: current.object },
      s.name,
      async (admission, fresh) => {
        const guards = await admission.mutate(fresh);
        const found = validateAndDefault(s.kind, next, opts.fieldValidation);
        warnings ??= found;
        finishUpdate(s.kind, next, current.object);
        track(current.object, next);
        keepTimesOfUnchangedWrite(current.object, next);
        const stored = storedForm(s.kind, next);
        if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) {
          if (!opts.dryRun) await this.remove(s, current.revision);
          return { object: next, warnings };
        }
        // Nothing changed: nothing is written (no new resourceVersion, no watch event).
        if (stored.value === (current.json ?? encode(current.object))) return { object: current.object, warnings };
        guards.push(...(await admission.validate(fresh)));
        if (opts.dryRun) return { object: next, warnings };
        return this.swap(s, current, next, warnings, stored, guards);
      },
    );
  }

  /**
   * Runs a write's attempts with its admission: once, unless etcd refused the write only because
   * an admission guard failed (what admission read changed in between); then again, with fresh
   * reads, a few times before the client is told to retry.
   */
  private async admitted<T>(
    a: AdmissionAttributes,
    name: string,
    attempt: (admission: WriteAdmission, fresh: boolean) => Promise<T | typeof GUARD_FAILED>,
  ): Promise<T> {
    const admission = this.admission.begin(a);
    for (let n = 0; ; n++) {
      try {
        const result = await attempt(admission, n > 0);
        if (result !== GUARD_FAILED) return result;
      } finally {
        admission.endAttempt();
      }
      if (n >= GUARD_RETRIES) throw guardsKeptFailing(a.kind, name);
    }
  }

  /** The compare-and-swap of an update: GUARD_FAILED when only a guard failed, 409 when the object moved on, 404 when it is gone. */
  private async swap(
    s: Scope,
    current: StoredObject,
    next: KubeObject,
    warnings: string[],
    stored: StoredForm,
    guards: WriteGuard[] = [],
  ): Promise<WriteResult | typeof GUARD_FAILED> {
    const key = this.key(s);
    const res = await this.store.update(key, stored.value, current.revision, guards);
    if (res.ok) return this.written(key, next, warnings, stored, res.revision);
    if (!res.current) throw notFound(target(s.kind, s.name));
    if (!res.guardFailed) throw staleObject(s.kind, s.name);
    return GUARD_FAILED;
  }

  /** A stored write's answer; the watch cache takes this object rather than decoding the same value again. */
  private written(key: string, object: KubeObject, warnings: string[], stored: StoredForm, revision: number): WriteResult {
    object.metadata.resourceVersion = String(revision);
    this.cache.expectWrite(key, { object, revision });
    return { object, warnings, json: stored.withResourceVersion(revision) };
  }

  /**
   * Binds an object to a node (the kind's strategy says how: strategies/virtualmachine.ts), in
   * one compare-and-swap. Without a resourceVersion precondition a concurrent change of the
   * object is retried from a fresh read, as Kubernetes' GuaranteedUpdate does; a concurrent bind
   * then finds it bound and answers 409 (or nothing to do, if to the same node).
   */
  async bind(s: Scope, binding: Binding, opts: { dryRun: boolean }): Promise<void> {
    const bind = strategyFor(s.kind).bind;
    if (!bind) throw new ApiError(405, 'MethodNotAllowed', `${s.kind.plural} have no binding subresource`);
    const key = this.key(s);
    const pinned = binding.metadata?.resourceVersion;
    for (let attempt = 0; ; attempt++) {
      const current = await this.load(s);
      checkResourceVersionPrecondition(s.kind, s.name, pinned, current.object);
      const next = bind(s.kind, current.object, binding.target.name, new Date());
      if (!next) return;
      const stored = storedForm(s.kind, next);
      if (opts.dryRun) return;
      const res = await this.store.update(key, stored.value, current.revision);
      if (res.ok) {
        this.written(key, next, [], stored, res.revision);
        return;
      }
      if (!res.current) throw notFound(target(s.kind, s.name));
      if (pinned || attempt >= PATCH_CONFLICT_RETRIES) throw staleObject(s.kind, s.name);
    }
  }

  /**
   * Many binds of one kind at once, as the bulk binding endpoint asks (routes/vm-bindings.ts):
   * each bind means exactly what bind() means — same preconditions, same 404/409 — but their
   * writes are made in one turn, so they go to etcd together (storage/txn-coalescer.ts). Objects
   * are judged on the watch cache's copy and swapped against its revision, so a stale copy costs
   * a failed compare, never a wrong write; etcd's answer carries the object as it is now, and
   * that is judged again.
   *
   * Answers one outcome per binding, in order: undefined when bound (or already bound there),
   * else the ApiError a single bind would have answered.
   */
  async bindMany(
    kind: KindInfo,
    bindings: { namespace: string; name: string; binding: Binding }[],
    opts: { dryRun: boolean },
  ): Promise<(ApiError | undefined)[]> {
    const bind = strategyFor(kind).bind;
    if (!bind) throw new ApiError(405, 'MethodNotAllowed', `${kind.plural} have no binding subresource`);
    const outcomes: (ApiError | undefined)[] = new Array(bindings.length).fill(undefined);
    const currents = await Promise.all(
      bindings.map((b) => this.cachedOrStored({ kind, namespace: b.namespace, name: b.name }, b.binding.metadata?.resourceVersion)),
    );
    let pending = bindings.map((_, i) => i);
    const now = new Date();
    for (let attempt = 0; pending.length; attempt++) {
      const writes: PendingBind[] = [];
      for (const i of pending) {
        const { namespace, name, binding } = bindings[i]!;
        const current = currents[i];
        try {
          if (!current) throw notFound(target(kind, name));
          checkResourceVersionPrecondition(kind, name, binding.metadata?.resourceVersion, current.object);
          const next = bind(kind, current.object, binding.target.name, now);
          if (next)
            writes.push({ index: i, key: objectKeyPath(kind, namespace, name), object: next, stored: storedForm(kind, next), revision: current.revision });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          outcomes[i] = err;
        }
      }
      if (opts.dryRun || !writes.length) break;
      const moved = (await Promise.all(writes.map((w) => this.commitBind(w, currents)))).filter((i) => i !== undefined);
      if (attempt >= PATCH_CONFLICT_RETRIES) {
        for (const i of moved) outcomes[i] = staleObject(kind, bindings[i]!.name);
        break;
      }
      pending = moved;
    }
    return outcomes;
  }

  /**
   * The object as the watch cache holds it, to write against with a compare-and-swap (patches,
   * binds); from etcd when the cache has none or is older than the version the caller names (a
   * precondition must be judged on that version or a newer one, never on an older copy).
   * Undefined when etcd has no such object either.
   */
  private async cachedOrStored(s: Scope, pinned: string | undefined): Promise<StoredObject | undefined> {
    const cached = this.cache.getStored(s.kind, s.namespace, s.name);
    if (cached && !(pinned && /^\d+$/.test(pinned) && Number(pinned) > cached.revision)) return cached;
    return this.store.get(this.key(s));
  }

  /**
   * One bind's compare-and-swap. Made in the same turn as the others of its call, it shares their
   * etcd transactions (storage/txn-coalescer.ts). Answers the index to judge again when the object
   * moved on, with `currents` updated from etcd's answer.
   */
  private async commitBind(w: PendingBind, currents: (StoredObject | undefined)[]): Promise<number | undefined> {
    const res = await this.store.update(w.key, w.stored.value, w.revision);
    if (res.ok) {
      this.written(w.key, w.object, [], w.stored, res.revision);
      return undefined;
    }
    currents[w.index] = res.current;
    return w.index;
  }

  private async remove(s: Scope, revision: number): Promise<void> {
    const res = await this.store.delete(this.key(s), revision);
    if (!res.ok) {
      if (!res.current) throw notFound(target(s.kind, s.name));
      throw staleObject(s.kind, s.name);
    }
  }

  /**
   * Graceful deletion: an object with finalizers only gets a deletionTimestamp; whoever owns each
   * finalizer removes it when done, and the last removal deletes the object (see replace()).
   */
  async delete(s: Scope, opts: DeleteOptionsBody): Promise<KubeObject> {
    const strategy = strategyFor(s.kind);
    const refused = strategy.refuseDelete?.(s.kind, s.name);
    if (refused) throw refused;
    for (let attempt = 0; ; attempt++) {
      const current = await this.load(s);
      const obj = current.object;
      checkUidPrecondition(s.kind, s.name, opts.preconditions?.uid, obj);
      checkResourceVersionPrecondition(s.kind, s.name, opts.preconditions?.resourceVersion, obj);
      try {
        if ((obj.metadata.finalizers ?? []).length) {
          if (obj.metadata.deletionTimestamp) return obj;
          // Marking it deleted is not an update of its content: no admission, no validation.
          const next = cloneJson(obj);
          next.metadata.deletionTimestamp = timestamp();
          next.metadata.deletionGracePeriodSeconds = 0;
          strategy.prepareForDelete?.(next);
          if (opts.dryRun) return next;
          // Without guards, etcd refuses the swap only for the object itself, and swap throws for that.
          return ((await this.swap(s, current, next, [], StoredForm.of(next))) as WriteResult).object;
        }
        if (!opts.dryRun) await this.remove(s, current.revision);
        return obj;
      } catch (err) {
        const retry = err instanceof ApiError && err.reason === 'Conflict' && !opts.preconditions?.resourceVersion && attempt < PATCH_CONFLICT_RETRIES;
        if (!retry) throw err;
      }
    }
  }
}

function missing(s: Scope): never {
  throw notFound(target(s.kind, s.name));
}

interface PendingBind {
  index: number;
  key: string;
  object: KubeObject;
  stored: StoredForm;
  /** The revision the bind was judged on: the transaction's compare. */
  revision: number;
}

/** A configuration pinned to a version (or incarnation) of an object that does not exist. */
function nothingToPin(kind: KindInfo, name: string, what: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the configuration names ${what}, and no such object exists`,
    {
      name,
      group: kind.group,
      kind: kind.plural,
    },
  );
}

function guardsKeptFailing(kind: KindInfo, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the objects it was admitted against kept changing; please try again`,
    {
      name,
      group: kind.group,
      kind: kind.plural,
    },
  );
}

/**
 * What a patch of `obj` (the watch cache's copy, never to be changed) starts from. A JSON patch
 * copies the object for itself. A merge patch changes nothing in place, but its result shares
 * what the patch left as it was, and the update changes its result in place (defaults, the
 * kind's canonical form, managed fields): it starts from a copy. Through /status, of the status
 * alone: everything else of the update is taken from the stored object (prepareUpdate), and the
 * top level and metadata, which the envelope check sets, are copied one level deep.
 */
function patchBase(obj: KubeObject, type: Exclude<PatchType, 'apply'>, subresource: Scope['subresource']): KubeObject {
  if (type === 'json') return obj;
  if (subresource === 'status') return { ...obj, metadata: { ...obj.metadata }, status: cloneJson(obj.status) };
  return cloneJson(obj);
}

/** What an update records: the fields the write changed, credited to its manager. `requested` is the managedFields the write sent, kept for every attempt. */
function updateTracker(s: Pick<Scope, 'kind' | 'subresource'>, opts: WriteOptions, requested: KubeObject['metadata']['managedFields']): TrackFields {
  const req = { kind: s.kind, manager: opts.fieldManager ?? APISERVER_MANAGER, subresource: s.subresource };
  return (live, next) => {
    setManaged(next, requested);
    recordUpdate(req, live, next);
  };
}

function withoutManaged(object: KubeObject): { object: KubeObject; managedFields: KubeObject['metadata']['managedFields'] } {
  const { managedFields, ...metadata } = object.metadata;
  return { object: { ...object, metadata }, managedFields };
}

function setManaged(object: KubeObject, managedFields: KubeObject['metadata']['managedFields']): void {
  if (managedFields === undefined) delete object.metadata.managedFields;
  else object.metadata.managedFields = cloneJson(managedFields);
}

/** The resourceVersion a merge patch names, if any (JSON patches' tests are judged by the patch itself). */
function pinnedVersion(patch: unknown): string | undefined {
  const rv = Array.isArray(patch) ? undefined : (patch as { metadata?: { resourceVersion?: unknown } })?.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : undefined;
}

function patchPinsVersion(patch: unknown): boolean {
  if (Array.isArray(patch)) return patch.some((op: { path?: unknown }) => op?.path === '/metadata/resourceVersion');
  return typeof (patch as { metadata?: { resourceVersion?: unknown } })?.metadata?.resourceVersion === 'string';
}
