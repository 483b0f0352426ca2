/**
 * Priority admission, as Kubernetes' Priority admission plugin:
 *  - mutating: a VirtualMachine gets its priority from its PriorityClass when it is created
 *    (spec.priority and spec.preemptionPolicy copied from the class named in
 *    spec.priorityClassName, or from the global default class, or 0 / PreemptLowerPriority);
 *    values the client gave that disagree are refused. That they never change afterwards is
 *    the VM's strategy (registry/strategies/virtualmachine.ts).
 *  - validating: at most one PriorityClass is the global default.
 *
 * The classes are read from the watch cache (priority-classes.ts), so every answer carries
 * WriteGuards (admission.ts). The create path is CPU-bound on the etcd client (see README): the
 * guards spare it a second etcd round trip on every VM create.
 */
import {
  invalid,
  type KindInfo,
  type KubeObject,
  type PreemptionPolicy,
  type PriorityClass,
  type StatusCause,
  type VirtualMachine,
  type VirtualMachineSpec,
} from '@shoal/api';
import type { WriteGuard } from '../storage/object-store.js';
import type { StoredObject } from '../storage/stored-value.js';
import type { AdmissionAttributes, AdmissionPass, MutatingAdmission, ValidatingAdmission } from './admission.js';
import type { PriorityClassSource } from './priority-classes.js';

const PREEMPT_LOWER_PRIORITY: PreemptionPolicy = 'PreemptLowerPriority';

/** What a VM carries when no class applies. */
const NO_CLASS = { priority: 0, preemptionPolicy: PREEMPT_LOWER_PRIORITY };

type PriorityFields = Pick<VirtualMachineSpec, 'priorityClassName' | 'priority' | 'preemptionPolicy'>;

const classSpec = (c: StoredObject) => (c.object as PriorityClass).spec;
const isDefault = (c: StoredObject) => classSpec(c).globalDefault === true;
const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The priority fields a VM's create asks for, or undefined when they are not even of the right
 * types: mutating admission runs before schema validation, which refuses those with its own causes.
 */
function requestedPriority(vm: KubeObject): PriorityFields | undefined {
  if (vm.spec === undefined) return {};
  if (!isObject(vm.spec)) return undefined;
  const { priorityClassName, priority, preemptionPolicy } = vm.spec;
  if (priorityClassName !== undefined && typeof priorityClassName !== 'string') return undefined;
  if (priority !== undefined && typeof priority !== 'number') return undefined;
  if (preemptionPolicy !== undefined && typeof preemptionPolicy !== 'string') return undefined;
  return { priorityClassName, priority, preemptionPolicy: preemptionPolicy as PreemptionPolicy | undefined };
}

export class PriorityAdmission implements MutatingAdmission, ValidatingAdmission {
  readonly name = 'Priority';

  constructor(private readonly source: PriorityClassSource) {}

  /** A VM's create: its priority from its class. */
  admit(a: AdmissionAttributes): AdmissionPass | undefined {
    if (a.operation !== 'create' || a.kind.kind !== 'VirtualMachine') return undefined;
    // Read once: a second pass must start from what the client sent, not from what the first pass filled in.
    const requested = requestedPriority(a.object);
    if (!requested) return undefined;
    return (fresh) => this.admitVm(a.kind, a.object, requested, fresh);
  }

  /** A PriorityClass becoming the global default: only if no other one is. */
  validate(a: AdmissionAttributes): AdmissionPass | undefined {
    if (a.kind.kind !== 'PriorityClass' || (a.object as PriorityClass).spec.globalDefault !== true) return undefined;
    if (a.operation === 'update' && (a.oldObject as PriorityClass).spec.globalDefault === true) return undefined;
    return () => this.onlyDefault(a.kind, a.object);
  }

  private async admitVm(kind: KindInfo, vm: KubeObject, requested: PriorityFields, fresh: boolean): Promise<WriteGuard[]> {
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

    // The spec is not validated yet (that comes after mutating admission): only its priority fields are written here.
    const spec = ((vm as VirtualMachine).spec ??= {} as VirtualMachineSpec);
    if (cls) spec.priorityClassName = cls.object.metadata.name;
    else delete spec.priorityClassName;
    spec.priority = computed.priority;
    spec.preemptionPolicy = computed.preemptionPolicy;

    // A named class only has to be unchanged (and still there). Without a name, no class may
    // have been created or changed since the read either: it could have become the default.
    if (named !== undefined) return [{ key: this.source.keyOf(named), revision: cls!.revision }];
    return [
      { prefix: this.source.prefix, unchangedSince: snap.revision },
      ...(cls ? [{ key: this.source.keyOf(cls.object.metadata.name!), revision: cls.revision }] : []),
    ];
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
