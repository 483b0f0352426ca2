/**
 * Priority admission, as Kubernetes' Priority admission plugin: a VirtualMachine gets its
 * priority from its PriorityClass when it is created (spec.priority and spec.preemptionPolicy
 * copied from the class named in spec.priorityClassName, or from the global default class, or
 * 0 / PreemptLowerPriority), those three fields never change afterwards, and at most one
 * PriorityClass is the global default.
 *
 * The classes are read from the watch cache, which costs nothing but may lag etcd, so every
 * answer carries WriteGuards: the VM's write succeeds only if the classes it was admitted
 * against are still as read (etcd checks that in the same transaction). If they are not, the
 * caller runs admission again with `fresh` set, from a read of etcd itself. The outcome is the
 * same as a consistent read of the classes at the moment of the write, without a second etcd
 * round trip on every VM create (the create path is CPU-bound on the etcd client; see README).
 */
import { invalid, type KindInfo, type KubeObject, type StatusCause } from '@shoal/api';
import type { ObjectStore, WriteGuard } from '../storage/object-store.js';
import type { StoredObject } from '../storage/stored-value.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { kindPrefix, objectKeyPath } from '../storage/keys.js';

export const PREEMPT_LOWER_PRIORITY = 'PreemptLowerPriority';

/** What a VM carries when no class applies. */
const NO_CLASS = { priority: 0, preemptionPolicy: PREEMPT_LOWER_PRIORITY };

interface PriorityClassSpec {
  value: number;
  preemptionPolicy?: string;
  globalDefault?: boolean;
}

interface VmPrioritySpec {
  priorityClassName?: string;
  priority?: number;
  preemptionPolicy?: string;
}

/** Every PriorityClass as of one etcd revision. */
export interface ClassSnapshot {
  classes: StoredObject[];
  revision: number;
}

export interface PriorityClassSource {
  /** fresh=false: the watch cache, which may lag etcd; fresh=true: a read of etcd itself. */
  snapshot(fresh: boolean): Promise<ClassSnapshot>;
  /** The etcd key of a class, and the prefix all classes live under, for the guards. */
  keyOf(name: string): string;
  readonly prefix: string;
}

/** One admission pass over an object about to be written; see ReadingAdmission in resource-service.ts. */
export type AdmissionPass = (fresh: boolean) => Promise<WriteGuard[]>;

const specOf = <T>(o: KubeObject) => (o.spec ?? {}) as T;
const classSpec = (c: StoredObject) => specOf<PriorityClassSpec>(c.object);
const isDefault = (c: StoredObject) => classSpec(c).globalDefault === true;
const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

export class PriorityAdmission {
  constructor(private readonly source: PriorityClassSource) {}

  /** The pass a create of this kind needs, if any. */
  forCreate(kind: KindInfo, object: KubeObject): AdmissionPass | undefined {
    if (kind.kind === 'VirtualMachine') {
      // Captured once: a second pass must start from what the client sent, not from what the first pass filled in.
      const { priorityClassName, priority, preemptionPolicy } = specOf<VmPrioritySpec>(object);
      return (fresh) => this.admitVm(kind, object, { priorityClassName, priority, preemptionPolicy }, fresh);
    }
    if (kind.kind === 'PriorityClass' && specOf<PriorityClassSpec>(object).globalDefault === true) return () => this.onlyDefault(kind, object);
    return undefined;
  }

  /** The pass an update needs, if any: only a class becoming the global default reads other objects. */
  forUpdate(kind: KindInfo, next: KubeObject, current: KubeObject): AdmissionPass | undefined {
    if (kind.kind !== 'PriorityClass') return undefined;
    const becomesDefault = specOf<PriorityClassSpec>(next).globalDefault === true && specOf<PriorityClassSpec>(current).globalDefault !== true;
    return becomesDefault ? () => this.onlyDefault(kind, next) : undefined;
  }

  private async admitVm(kind: KindInfo, vm: KubeObject, requested: VmPrioritySpec, fresh: boolean): Promise<WriteGuard[]> {
    let snap = await this.source.snapshot(fresh);
    // An empty name is no name, as in Kubernetes (a manifest's `priorityClassName: ""`).
    const named = requested.priorityClassName || undefined;
    let cls: StoredObject | undefined;
    if (named !== undefined) {
      cls = snap.classes.find((c) => c.object.metadata.name === named);
      // A class created a moment ago may not have reached the cache yet: ask etcd before refusing.
      if (!cls && !fresh) {
        snap = await this.source.snapshot(true);
        cls = snap.classes.find((c) => c.object.metadata.name === named);
      }
      if (!cls)
        throw invalid(target(kind, vm.metadata.name), [
          { field: 'spec.priorityClassName', type: 'FieldValueNotFound', message: `Not found: ${JSON.stringify(named)}: no PriorityClass named ${named}` },
        ]);
    } else {
      // Several defaults can only come from before the rule was enforced; take one deterministically.
      cls = snap.classes.filter(isDefault).sort((a, b) => (a.object.metadata.name! < b.object.metadata.name! ? -1 : 1))[0];
    }

    const computed = cls ? { priority: classSpec(cls).value, preemptionPolicy: classSpec(cls).preemptionPolicy ?? PREEMPT_LOWER_PRIORITY } : NO_CLASS;
    const causes: StatusCause[] = [];
    if (requested.priority !== undefined && requested.priority !== computed.priority)
      causes.push({
        field: 'spec.priority',
        type: 'FieldValueForbidden',
        message: `Forbidden: must not differ from the priority of the VM's PriorityClass: ${requested.priority} was given, ${cls ? `${cls.object.metadata.name} has` : 'without a class it is'} ${computed.priority} (leave spec.priority unset)`,
      });
    if (requested.preemptionPolicy !== undefined && requested.preemptionPolicy !== computed.preemptionPolicy)
      causes.push({
        field: 'spec.preemptionPolicy',
        type: 'FieldValueForbidden',
        message: `Forbidden: must not differ from the preemptionPolicy of the VM's PriorityClass: ${requested.preemptionPolicy} was given, ${cls ? `${cls.object.metadata.name} has` : 'without a class it is'} ${computed.preemptionPolicy} (leave spec.preemptionPolicy unset)`,
      });
    if (causes.length) throw invalid(target(kind, vm.metadata.name), causes);

    const spec = (vm.spec ??= {}) as VmPrioritySpec;
    if (cls) spec.priorityClassName = cls.object.metadata.name;
    else delete spec.priorityClassName;
    spec.priority = computed.priority;
    spec.preemptionPolicy = computed.preemptionPolicy;

    // A named class only has to be unchanged (and still there). Without a name, no class may
    // have been created or changed since the read either: it could have become the default.
    if (named !== undefined) return [{ key: this.source.keyOf(named), revision: cls!.revision }];
    return [{ prefix: this.source.prefix, unchangedSince: snap.revision }, ...(cls ? [{ key: this.source.keyOf(cls.object.metadata.name!), revision: cls.revision }] : [])];
  }

  /**
   * A class about to become the global default: refused while another one is. Read from etcd,
   * since a stale "there is one" would refuse wrongly; the guard makes two classes racing to
   * become the default fail one another rather than both succeed.
   */
  private async onlyDefault(kind: KindInfo, pc: KubeObject): Promise<WriteGuard[]> {
    const snap = await this.source.snapshot(true);
    const other = snap.classes.find((c) => isDefault(c) && c.object.metadata.name !== pc.metadata.name);
    if (other)
      throw invalid(target(kind, pc.metadata.name), [
        {
          field: 'spec.globalDefault',
          type: 'FieldValueForbidden',
          message: `Forbidden: PriorityClass ${other.object.metadata.name} is already the global default, and only one class may be (set its globalDefault to false first)`,
        },
      ]);
    return [{ prefix: this.source.prefix, unchangedSince: snap.revision }];
  }
}

/**
 * Fields that never change after creation, checked on every update (and, harmlessly, /status
 * writes). A VM update that leaves out a field admission set at creation keeps the stored
 * value instead of failing: a manifest re-applied with PUT (kubectl replace, an apply that
 * never mentioned priority) should not have to repeat what the server filled in.
 */
export function checkImmutablePriority(kind: KindInfo, next: KubeObject, current: KubeObject): void {
  const fields =
    kind.kind === 'VirtualMachine' ? (['priorityClassName', 'priority', 'preemptionPolicy'] as const) : kind.kind === 'PriorityClass' ? (['value'] as const) : undefined;
  if (!fields) return;
  const before = specOf<Record<string, unknown>>(current);
  const after = (next.spec ??= {}) as Record<string, unknown>;
  const causes: StatusCause[] = [];
  let restored = false;
  for (const f of fields) {
    if (kind.kind === 'VirtualMachine' && after[f] === undefined && before[f] !== undefined) {
      after[f] = before[f];
      restored = true;
    }
    if (after[f] !== before[f])
      causes.push({ field: `spec.${f}`, type: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(after[f] ?? null)}: field is immutable (it was ${JSON.stringify(before[f] ?? null)})` });
  }
  if (causes.length) throw invalid(target(kind, next.metadata.name), causes);
  // Put restored fields back where they were: a patch that removed them and so changed nothing
  // must store the very same bytes, or it would be written (a new resourceVersion, a watch event).
  if (restored) next.spec = inKeyOrderOf(before, after);
}

function inKeyOrderOf(model: Record<string, unknown>, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(model)) if (Object.hasOwn(obj, k)) out[k] = obj[k];
  for (const k of Object.keys(obj)) if (!Object.hasOwn(out, k)) out[k] = obj[k];
  return out;
}

/** The classes from the watch cache, or page by page from etcd at one revision. */
export function storedPriorityClasses(store: ObjectStore, cache: WatchCache, kind: KindInfo): PriorityClassSource {
  const prefix = kindPrefix(kind);
  return {
    prefix,
    keyOf: (name) => objectKeyPath(kind, undefined, name),
    async snapshot(fresh) {
      if (!fresh) return { classes: [...cache.objects(kind)], revision: cache.revision };
      const classes: StoredObject[] = [];
      let revision = 0;
      let startAfter: string | undefined;
      for (let more = true; more; ) {
        const page = await store.listPage(prefix, { startAfter, limit: 500, revision });
        classes.push(...page.items);
        ({ revision, more } = page);
        startAfter = page.lastKey;
      }
      return { classes, revision };
    },
  };
}
