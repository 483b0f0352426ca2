/**
 * The verbs of the API over the store and the watch cache: get, list, create, update, patch,
 * delete. Routes translate HTTP into these calls; everything here speaks objects and ApiErrors.
 */
import {
  ApiError,
  alreadyExists,
  BUILTIN_NAMESPACES,
  gone,
  matchesFields,
  matchesSelector,
  notFound,
  type KindInfo,
  type KubeList,
  type KubeObject,
  type FieldRequirement,
  type Selector,
} from '@shoal/api';
import type { ObjectStore, StoredObject, WriteGuard } from '../storage/object-store.js';
import { encode } from '../storage/object-store.js';
import { StoredForm } from '../storage/stored-form.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { listPrefix, objectKeyPath } from '../storage/keys.js';
import {
  admitCreate,
  admitUpdate,
  checkEnvelope,
  checkResourceVersionPrecondition,
  staleObject,
  storedForm,
  requireResourceVersion,
  type FieldValidation,
} from './admission.js';
import type { AdmissionPass } from './priority-admission.js';
import { boundVm, type Binding } from './vm-binding.js';
import { applyPatch, type PatchType } from './patch.js';
import { decodeContinue, encodeContinue } from './continue-token.js';

export interface Scope {
  kind: KindInfo;
  namespace?: string;
  name: string;
  subresource?: 'status';
}

export interface WriteOptions {
  fieldValidation: FieldValidation;
  dryRun: boolean;
}

export interface ListQuery {
  namespace?: string;
  labels: Selector;
  fields: FieldRequirement[];
  limit?: number;
  continueToken?: string;
  /** '' (consistent read), '0' (any recent state) or a revision. */
  resourceVersion?: string;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** `object` as JSON, when the write already serialised it (the route sends this instead of serialising again). */
  json?: string;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/**
 * Admission that reads other objects (priority-admission.ts): asynchronous, so what it read may
 * change before the write; the guards each pass answers make etcd refuse the write then, and
 * the pass runs again with fresh=true.
 */
export interface ReadingAdmission {
  forCreate(kind: KindInfo, object: KubeObject): AdmissionPass | undefined;
  forUpdate(kind: KindInfo, next: KubeObject, current: KubeObject): AdmissionPass | undefined;
  /**
   * For admission whose writes must take turns (quota: usage read, then written, one write at a
   * time per namespace): resolves when it is this write's turn, with the function that ends it.
   */
  exclusive?(kind: KindInfo, namespace: string | undefined): Promise<(() => void) | undefined>;
}

/** How often a write whose guards failed is admitted again before the client is told to retry. */
const GUARD_RETRIES = 5;

/** Patches without a resourceVersion retry on conflicts this many times, as Kubernetes' GuaranteedUpdate does. */
const PATCH_CONFLICT_RETRIES = 5;
/** Objects fetched from etcd per round trip when paging a selective list. */
const LIST_CHUNK = 500;
/** How long a read may wait for the watch cache to catch up with etcd. */
const CACHE_CATCH_UP_MS = 3_000;

const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

export class ResourceService {
  constructor(
    private readonly store: ObjectStore,
    private readonly cache: WatchCache,
    private readonly namespaceKind: KindInfo,
    private readonly admission?: ReadingAdmission,
  ) {}

  private key(s: Scope): string {
    return objectKeyPath(s.kind, s.namespace, s.name);
  }

  private async load(s: Scope): Promise<StoredObject> {
    const found = await this.store.get(this.key(s));
    if (!found) throw notFound(target(s.kind, s.name));
    return found;
  }

  async get(s: Scope): Promise<KubeObject> {
    return (await this.load(s)).object;
  }

  async list(kind: KindInfo, q: ListQuery): Promise<KubeList> {
    const matches = (o: KubeObject) => matchesSelector(q.labels, o.metadata.labels) && matchesFields(q.fields, o);
    const listKind = { apiVersion: kind.apiVersion, kind: kind.listKind };
    if (!q.limit && !q.continueToken) return { ...listKind, ...(await this.listFromCache(kind, q, matches)) };
    return { ...listKind, ...(await this.listFromEtcd(kind, q, matches)) };
  }

  /** Whole lists come from memory, after the cache has caught up with etcd (a consistent read). */
  private async listFromCache(kind: KindInfo, q: ListQuery, matches: (o: KubeObject) => boolean) {
    let atLeast = 0;
    if (q.resourceVersion === undefined || q.resourceVersion === '') atLeast = await this.store.currentRevision();
    else if (q.resourceVersion !== '0') atLeast = Number(q.resourceVersion);
    if (!(await this.cache.waitForRevision(atLeast, CACHE_CATCH_UP_MS)))
      throw new ApiError(504, 'Timeout', `Too large resource version: ${atLeast}, current: ${this.cache.revision}`, { retryAfterSeconds: 1 });
    const revision = this.cache.revision;
    const items: KubeObject[] = [];
    for (const { object } of this.cache.objects(kind)) {
      if (q.namespace && object.metadata.namespace !== q.namespace) continue;
      if (matches(object)) items.push(object);
    }
    items.sort((a, b) => cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name!, b.metadata.name!));
    return { metadata: { resourceVersion: String(revision) }, items };
  }

  /**
   * Paged lists read etcd at one revision for every page, so a client paging through 50,000
   * objects sees one consistent snapshot. Selectors are applied per chunk until the page is full.
   */
  private async listFromEtcd(kind: KindInfo, q: ListQuery, matches: (o: KubeObject) => boolean) {
    const prefix = listPrefix(kind, q.namespace);
    const limit = q.limit && q.limit > 0 ? q.limit : Infinity;
    let revision = 0;
    let startAfter: string | undefined;
    if (q.continueToken) ({ revision, startAfter } = decodeContinue(q.continueToken, prefix));
    else if (q.resourceVersion && q.resourceVersion !== '0') revision = Number(q.resourceVersion);
    const items: KubeObject[] = [];
    const selective = q.labels.length > 0 || q.fields.length > 0;
    let more = true;
    let remaining = 0;
    try {
      while (items.length < limit && more) {
        const want = Math.min(LIST_CHUNK, limit === Infinity ? LIST_CHUNK : selective ? Math.max(limit - items.length, 50) : limit - items.length);
        const page = await this.store.listPage(prefix, { startAfter, limit: want, revision });
        revision = page.revision;
        more = page.more;
        remaining = page.remaining;
        for (const { object } of page.items) {
          if (items.length >= limit) break;
          startAfter = keyOf(kind, object);
          if (matches(object)) items.push(object);
        }
        // A page cut short by the limit leaves the rest of the chunk for the next call.
        if (items.length >= limit && page.items.length && keyOf(kind, page.items[page.items.length - 1]!.object) !== startAfter) more = true;
      }
    } catch (err) {
      if (/compact/i.test((err as Error).message))
        throw gone(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.`);
      throw err;
    }
    return {
      metadata: {
        resourceVersion: String(revision),
        ...(more ? { continue: encodeContinue({ revision, startAfter: startAfter! }) } : {}),
        ...(more && !selective ? { remainingItemCount: remaining } : {}),
      },
      items,
    };
  }

  private async ensureNamespace(kind: KindInfo, namespace: string | undefined): Promise<void> {
    if (!kind.namespaced || !namespace) return;
    const ns =
      this.cache.getObject(this.namespaceKind, undefined, namespace) ??
      (await this.store.get(objectKeyPath(this.namespaceKind, undefined, namespace)))?.object;
    if (!ns) throw notFound({ kind: 'Namespace', name: namespace });
    if (ns.metadata.deletionTimestamp)
      throw new ApiError(403, 'Forbidden', `${kind.plural} "…" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
  }

  async create(kind: KindInfo, namespace: string | undefined, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const admitted = admitCreate(kind, body, namespace, opts.fieldValidation);
    const { object, warnings } = admitted;
    await this.ensureNamespace(kind, namespace);
    const name = object.metadata.name!;
    const key = objectKeyPath(kind, namespace, name);
    const pass = this.admission?.forCreate(kind, object);
    for (let attempt = 0; ; attempt++) {
      const endTurn = pass && (await this.admission!.exclusive?.(kind, namespace));
      try {
        let { stored } = admitted;
        let guards: WriteGuard[] = [];
        if (pass) {
          guards = await pass(attempt > 0);
          // The pass may have filled fields in (a VM's priority): serialise what it left.
          stored = storedForm(kind, object);
        }
        if (opts.dryRun) {
          if (await this.store.get(key)) throw alreadyExists(target(kind, name));
          return { object, warnings };
        }
        const res = await this.store.create(key, stored.value, guards);
        if (res.ok) return this.written(key, object, warnings, stored, res.revision);
        if (!res.guardFailed) throw alreadyExists(target(kind, name));
        if (attempt >= GUARD_RETRIES) throw guardsKeptFailing(kind, name);
      } finally {
        endTurn?.();
      }
    }
  }

  /** A stored write's answer; the watch cache takes this object rather than decoding the same value again. */
  private written(key: string, object: KubeObject, warnings: string[], stored: StoredForm, revision: number): WriteResult {
    object.metadata.resourceVersion = String(revision);
    this.cache.expectWrite(key, { object, revision });
    return { object, warnings, json: stored.withResourceVersion(revision) };
  }

  async update(s: Scope, body: unknown, opts: WriteOptions): Promise<WriteResult> {
    const incoming = checkEnvelope(s.kind, body, s.namespace);
    const rv = requireResourceVersion(s.kind, s.name, incoming);
    const current = await this.load(s);
    checkResourceVersionPrecondition(s.kind, s.name, rv, current.object);
    return this.write(s, current, admitUpdate({ ...s, body: incoming, current: current.object, fieldValidation: opts.fieldValidation }), opts);
  }

  async patch(s: Scope, type: PatchType, patch: unknown, opts: WriteOptions): Promise<WriteResult> {
    // A patch that names a resourceVersion is a precondition; one that does not applies to
    // whatever is current, retrying on conflicts.
    const pinned = patchPinsVersion(patch);
    for (let attempt = 0; ; attempt++) {
      const current = await this.load(s);
      const patched = applyPatch(structuredClone(current.object), type, patch) as KubeObject;
      checkResourceVersionPrecondition(s.kind, s.name, patched?.metadata?.resourceVersion, current.object);
      const admitted = admitUpdate({ ...s, body: patched, current: current.object, fieldValidation: opts.fieldValidation });
      try {
        return await this.write(s, current, admitted, opts);
      } catch (err) {
        const conflict = err instanceof ApiError && err.reason === 'Conflict';
        if (!conflict || pinned || attempt >= PATCH_CONFLICT_RETRIES) throw err;
      }
    }
  }

  /** Stores an admitted change; the last finalizer leaving an object being deleted removes it. */
  private async write(s: Scope, current: StoredObject, admitted: { object: KubeObject; warnings: string[]; stored?: StoredForm }, opts: WriteOptions): Promise<WriteResult> {
    const { object, warnings } = admitted;
    const finished = object.metadata.deletionTimestamp && !(object.metadata.finalizers ?? []).length;
    if (finished) {
      if (!opts.dryRun) await this.remove(s, current.revision);
      return { object, warnings };
    }
    const stored = admitted.stored ?? StoredForm.of(object);
    if (stored.value === encode(current.object)) return { object: current.object, warnings };
    const pass = this.admission?.forUpdate(s.kind, object, current.object);
    const key = this.key(s);
    for (let attempt = 0; ; attempt++) {
      const endTurn = pass && (await this.admission!.exclusive?.(s.kind, s.namespace));
      try {
        const guards = pass ? await pass(attempt > 0) : [];
        if (opts.dryRun) return { object, warnings };
        const res = await this.store.update(key, stored.value, current.revision, guards);
        if (res.ok) return this.written(key, object, warnings, stored, res.revision);
        if (!res.current) throw notFound(target(s.kind, s.name));
        if (!res.guardFailed) throw staleObject(s.kind, s.name);
        if (attempt >= GUARD_RETRIES) throw guardsKeptFailing(s.kind, s.name);
      } finally {
        endTurn?.();
      }
    }
  }

  /**
   * Binds a VM to a node (vm-binding.ts): spec.nodeName and the Scheduled status in one
   * compare-and-swap. Without a resourceVersion precondition a concurrent change of the VM is
   * retried from a fresh read, as Kubernetes' GuaranteedUpdate does; a concurrent bind then
   * finds the VM bound and answers 409 (or nothing to do, if to the same node).
   */
  async bind(s: Scope, binding: Binding, opts: { dryRun: boolean }): Promise<void> {
    const key = this.key(s);
    for (let attempt = 0; ; attempt++) {
      const current = await this.load(s);
      checkResourceVersionPrecondition(s.kind, s.name, binding.resourceVersion, current.object);
      const next = boundVm(s.kind, current.object, binding.nodeName, new Date());
      if (!next) return;
      const stored = storedForm(s.kind, next);
      if (opts.dryRun) return;
      const res = await this.store.update(key, stored.value, current.revision);
      if (res.ok) {
        this.written(key, next, [], stored, res.revision);
        return;
      }
      if (!res.current) throw notFound(target(s.kind, s.name));
      if (binding.resourceVersion || attempt >= PATCH_CONFLICT_RETRIES) throw staleObject(s.kind, s.name);
    }
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
   * finalizer removes it when done, and the last removal deletes the object (see write()).
   */
  async delete(s: Scope, opts: DeleteOptions): Promise<KubeObject> {
    if (s.kind.kind === 'Namespace' && BUILTIN_NAMESPACES.includes(s.name))
      throw new ApiError(403, 'Forbidden', `namespaces "${s.name}" is forbidden: this namespace may not be deleted`, { name: s.name, kind: 'namespaces' });
    for (let attempt = 0; ; attempt++) {
      const current = await this.load(s);
      const obj = current.object;
      if (opts.preconditions?.uid && opts.preconditions.uid !== obj.metadata.uid)
        throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${obj.metadata.uid}`, { name: s.name, kind: s.kind.plural });
      checkResourceVersionPrecondition(s.kind, s.name, opts.preconditions?.resourceVersion, obj);
      try {
        if ((obj.metadata.finalizers ?? []).length) {
          if (obj.metadata.deletionTimestamp) return obj;
          const next = structuredClone(obj);
          next.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
          next.metadata.deletionGracePeriodSeconds = 0;
          if (s.kind.kind === 'Namespace') next.status = { phase: 'Terminating' };
          return (await this.write(s, current, { object: next, warnings: [] }, { dryRun: opts.dryRun, fieldValidation: 'Ignore' })).object;
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

function guardsKeptFailing(kind: KindInfo, name: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${name}": the objects it was admitted against kept changing; please try again`, {
    name,
    group: kind.group,
    kind: kind.plural,
  });
}

function patchPinsVersion(patch: unknown): boolean {
  if (Array.isArray(patch)) return patch.some((op: { path?: unknown }) => op?.path === '/metadata/resourceVersion');
  return typeof (patch as { metadata?: { resourceVersion?: unknown } })?.metadata?.resourceVersion === 'string';
}

function keyOf(kind: KindInfo, o: KubeObject): string {
  return objectKeyPath(kind, o.metadata.namespace, o.metadata.name!);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
