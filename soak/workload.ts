/**
 * The stream of user operations on the soak's VMs (names soak-vm-0 … soak-vm-<N-1>): creates,
 * spec and label updates, stops and starts (runStrategy Halted / Always), deletes — and, once it
 * exists, migration. One operation at a time, a seeded random gap apart; which one depends on
 * the seed and on what exists (a name that is absent can only be created, and so on).
 *
 * Every write goes into the Ledger with its outcome; every acknowledged one starts the VM's
 * convergence clock. Updates and deletes read the VM first and write with that read's
 * resourceVersion (or uid) as a precondition: see ledger.ts for why.
 *
 * A migration is no write of the VM (its spec and labels stay as they are): it creates a
 * Migration of a Running VM (Live or Cold, sometimes allowing a cold fallback; no target, so the
 * scheduler picks one), which migrations.ts follows to its end.
 */
import { ApiError, type Migration, type VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { ConvergenceTracker } from './convergence.js';
import { delay } from './delay.js';
import { COLOUR_LABEL, declaredOf, outcomeOf, WRITE_LABEL, type Declared, type Ledger, type WriteOp } from './ledger.js';
import type { Random } from './random.js';

/** Longest wait for one API call: past it the write counts as ambiguous. */
const REQUEST_TIMEOUT_MS = 15_000;
const NAMESPACE = 'default';
const COLOURS = ['red', 'green', 'blue', 'amber', 'violet', 'teal'] as const;

export type OperationKind = WriteOp | 'migrate';

/**
 * How often each operation is chosen, among those possible for the VM picked. `migrate` is
 * possible only for a VM that runs (Always, Running, bound): the rest would be refused at once.
 */
export const OPERATION_WEIGHTS: Record<OperationKind, number> = {
  create: 3,
  'update-labels': 3,
  'update-cmdline': 2,
  stop: 2,
  start: 3,
  delete: 1.2,
  migrate: 2,
};

export interface WorkloadOptions {
  client: ShoalClient;
  /** The soak's own informer of VMs: what exists, as the API says (the choice of operations only). */
  vms: Informer<VirtualMachine>;
  ledger: Ledger;
  tracker: ConvergenceTracker;
  random: Random;
  names: string[];
  memoryMiB: number;
  /** Whether migrate is among the operations. */
  migrations: boolean;
  /** Milliseconds since the soak began. */
  now: () => number;
  log: (line: string) => void;
}

export const vmName = (i: number) => `soak-vm-${i}`;

const runs = (vm: VirtualMachine) => vm.spec.runStrategy === 'Always' && vm.status?.phase === 'Running' && !!vm.spec.nodeName;

const writeSeq = (vm: VirtualMachine | undefined) => Number(vm?.metadata.labels?.[WRITE_LABEL]?.slice(1) ?? 0);

export class Workload {
  readonly counts: Record<string, number> = {};

  constructor(private readonly o: WorkloadOptions) {}

  /** Creates every VM (about a quarter Halted), before the chaos starts. */
  async populate(): Promise<void> {
    for (const name of this.o.names) await this.create(name, this.o.random.next() < 0.25 ? 'Halted' : 'Always');
  }

  /** Runs operations until `signal` aborts, a gap of [minGapMs, maxGapMs) apart. */
  async run(signal: AbortSignal, minGapMs: number, maxGapMs: number): Promise<void> {
    while (!signal.aborted) {
      await this.step();
      await delay(this.o.random.between(minGapMs, maxGapMs), signal);
    }
  }

  /** One operation on one VM: the VM first (any name), then an operation it allows. */
  async step(): Promise<void> {
    const r = this.o.random;
    const name = r.pick(this.o.names);
    const vm = this.o.vms.get(`${NAMESPACE}/${name}`);
    if (vm?.metadata.deletionTimestamp) return this.count('skipped (being deleted)');
    const possible: Partial<Record<OperationKind, number>> = vm
      ? {
          'update-labels': OPERATION_WEIGHTS['update-labels'],
          'update-cmdline': OPERATION_WEIGHTS['update-cmdline'],
          [vm.spec.runStrategy === 'Halted' ? 'start' : 'stop']: OPERATION_WEIGHTS[vm.spec.runStrategy === 'Halted' ? 'start' : 'stop'],
          delete: OPERATION_WEIGHTS.delete,
          ...(this.o.migrations && runs(vm) ? { migrate: OPERATION_WEIGHTS.migrate } : {}),
        }
      : { create: OPERATION_WEIGHTS.create };
    const op = r.weighted(possible as Record<OperationKind, number>);
    switch (op) {
      case 'create':
        return this.create(name, r.next() < 0.25 ? 'Halted' : 'Always');
      case 'update-labels':
        return this.update(name, op, (d) => ({ ...d, colour: r.pick(COLOURS) }));
      case 'update-cmdline':
        return this.update(name, op, (d, id) => ({ ...d, cmdline: `soak.write=${id}` }));
      case 'stop':
        return this.update(name, op, (d) => ({ ...d, runStrategy: 'Halted' }));
      case 'start':
        return this.update(name, op, (d) => ({ ...d, runStrategy: 'Always' }));
      case 'delete':
        return this.delete(name);
      case 'migrate':
        return this.migrate(name, vm!.metadata.uid!);
    }
  }

  private count(what: string): void {
    this.counts[what] = (this.counts[what] ?? 0) + 1;
  }

  private async create(name: string, runStrategy: Declared['runStrategy']): Promise<void> {
    const { seq, id } = this.o.ledger.nextId();
    const declared: Declared = { runStrategy, cmdline: `soak.write=${id}`, colour: this.o.random.pick(COLOURS) };
    const sentAtMs = this.o.now();
    try {
      const vm = await this.o.client.create<VirtualMachine>(
        'vm',
        {
          metadata: { name, namespace: NAMESPACE, labels: { [WRITE_LABEL]: id, [COLOUR_LABEL]: declared.colour } },
          spec: { runStrategy, cmdline: declared.cmdline, resources: { vcpus: 1, memoryMiB: this.o.memoryMiB } },
        },
        { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
      this.acked(seq, id, name, 'create', sentAtMs, vm.metadata.uid!, declared);
    } catch (err) {
      this.failed(seq, id, name, 'create', sentAtMs, err, undefined, declared);
    }
  }

  private async update(name: string, op: WriteOp, change: (d: Declared, id: string) => Declared): Promise<void> {
    const current = await this.read(name);
    if (!current) return;
    const { seq, id } = this.o.ledger.nextId();
    const declared = change(declaredOf(current), id);
    const sentAtMs = this.o.now();
    try {
      await this.o.client.patch<VirtualMachine>(
        'vm',
        name,
        {
          metadata: { resourceVersion: current.metadata.resourceVersion, labels: { [WRITE_LABEL]: id, [COLOUR_LABEL]: declared.colour } },
          spec: { runStrategy: declared.runStrategy, cmdline: declared.cmdline },
        },
        { type: 'merge', namespace: NAMESPACE, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
      this.acked(seq, id, name, op, sentAtMs, current.metadata.uid!, declared);
    } catch (err) {
      this.failed(seq, id, name, op, sentAtMs, err, current.metadata.uid, declared);
    }
  }

  private async delete(name: string): Promise<void> {
    const current = await this.read(name);
    if (!current) return;
    const { seq, id } = this.o.ledger.nextId();
    const uid = current.metadata.uid!;
    const sentAtMs = this.o.now();
    try {
      await this.o.client.delete('vm', name, { namespace: NAMESPACE, preconditions: { uid }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      this.acked(seq, id, name, 'delete', sentAtMs, uid, undefined);
    } catch (err) {
      this.failed(seq, id, name, 'delete', sentAtMs, err, uid, undefined);
    }
  }

  /** Creates a Migration of the VM (not a write of it: nothing goes into the ledger; migrations.ts follows it to its end). */
  private async migrate(name: string, uid: string): Promise<void> {
    const r = this.o.random;
    const { seq } = this.o.ledger.nextId();
    const spec = { vmName: name, mode: r.next() < 0.7 ? ('Live' as const) : ('Cold' as const), allowColdFallback: r.next() < 0.5 };
    try {
      await this.o.client.create<Migration>(
        'migration',
        { metadata: { name: `${name}-m${seq}`, namespace: NAMESPACE }, spec },
        { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
      this.count(`migrate ${spec.mode} acked`);
      this.o.log(`migration ${name}-m${seq} of ${name} (${uid.slice(0, 8)}): ${spec.mode}${spec.allowColdFallback ? ', cold fallback allowed' : ''}`);
    } catch (err) {
      this.count(`migrate ${outcomeOf(err).outcome}`);
    }
  }

  /** The VM as stored now (a read, not a write: nothing goes into the ledger); undefined when absent or unreadable. */
  private async read(name: string): Promise<VirtualMachine | undefined> {
    try {
      return await this.o.client.get<VirtualMachine>('vm', name, { namespace: NAMESPACE, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      this.count(err instanceof ApiError && err.code === 404 ? 'skipped (gone when read)' : 'skipped (read failed)');
      return undefined;
    }
  }

  private acked(seq: number, id: string, name: string, op: WriteOp, sentAtMs: number, uid: string, declared: Declared | undefined): void {
    const answeredAtMs = this.o.now();
    this.o.ledger.record({ seq, id, vm: name, op, sentAtMs, answeredAtMs, outcome: 'acked', uid, ...(declared ? { declared } : {}) });
    this.count(`${op} acked`);
    // The clock runs once the soak's view shows this write (or, for a VM gone, a later one was sent).
    const visible =
      op === 'delete'
        ? (vm: VirtualMachine | undefined) => !vm || vm.metadata.uid !== uid
        : (vm: VirtualMachine | undefined) => (vm ? writeSeq(vm) >= seq : this.o.ledger.writes.some((w) => w.vm === name && w.seq > seq));
    this.o.tracker.start(name, `write ${id} (${op})`, answeredAtMs, visible);
  }

  private failed(
    seq: number,
    id: string,
    name: string,
    op: WriteOp,
    sentAtMs: number,
    err: unknown,
    uid: string | undefined,
    declared: Declared | undefined,
  ): void {
    const { outcome, code, error } = outcomeOf(err);
    this.o.ledger.record({
      seq,
      id,
      vm: name,
      op,
      sentAtMs,
      answeredAtMs: this.o.now(),
      outcome,
      error,
      ...(code ? { code } : {}),
      ...(uid ? { uid } : {}),
      ...(declared ? { declared } : {}),
    });
    this.count(`${op} ${outcome}`);
    if (outcome === 'ambiguous') this.o.log(`write ${id} ${op} ${name}: ambiguous (${error})`);
  }
}
