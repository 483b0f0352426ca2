/**
 * Every write the workload sent, with what came of it, and the check that no acknowledged write
 * was lost.
 *
 * Outcomes:
 *   acked      2xx: the apiserver says it is stored
 *   rejected   4xx (Conflict, NotFound, AlreadyExists, ...): Kubernetes semantics say nothing
 *              was changed
 *   ambiguous  5xx, a timeout, a broken connection: it may or may not have been applied
 *
 * Every write carries its own id in the label `soak.shoal.dev/write` (w<seq>) and the whole
 * state the workload owns (labels, spec.cmdline, spec.runStrategy), and every update names the
 * resourceVersion it read just before (a precondition) — so a late write can never land on top
 * of a newer one, and the object in etcd says exactly which write it came from. At the end, per
 * VM name, with the object read straight from etcd:
 *
 *   last acked write a create or update of incarnation U, id wK:
 *     the object must be incarnation U with id wK, or with the id of an ambiguous write sent
 *     after wK (superseded); with the fields that write declared; or gone / replaced only if an
 *     ambiguous delete of U was sent after wK
 *   last acked write a delete of U: no object of incarnation U (or one with its deletionTimestamp)
 *   always: the object's write id is never that of a rejected write (4xx means not applied)
 */
import { ApiError, type VirtualMachine } from '@shoal/api';

export const WRITE_LABEL = 'soak.shoal.dev/write';
export const COLOUR_LABEL = 'soak.shoal.dev/colour';

export type WriteOp = 'create' | 'update-labels' | 'update-cmdline' | 'stop' | 'start' | 'delete';
export type Outcome = 'acked' | 'rejected' | 'ambiguous';

/** The part of a VM the workload owns: what every write sets in full. */
export interface Declared {
  runStrategy: 'Always' | 'Halted';
  cmdline: string;
  colour: string;
}

export interface WriteRecord {
  seq: number;
  id: string;
  vm: string;
  op: WriteOp;
  /** Offsets from the start of the soak. */
  sentAtMs: number;
  answeredAtMs: number;
  outcome: Outcome;
  /** HTTP status, when there was an answer. */
  code?: number;
  error?: string;
  /** The incarnation written (updates and deletes: the one read before; creates: from the answer). */
  uid?: string;
  /** What the VM's workload-owned state is once this write applied (not for deletes). */
  declared?: Declared;
}

export interface LostWrite {
  vm: string;
  write: string;
  problem: string;
}

export function outcomeOf(err: unknown): { outcome: Outcome; code?: number; error: string } {
  if (err instanceof ApiError)
    return { outcome: err.code >= 400 && err.code < 500 ? 'rejected' : 'ambiguous', code: err.code, error: `${err.code} ${err.reason}: ${err.message}` };
  return { outcome: 'ambiguous', error: (err as Error).message };
}

export const declaredOf = (vm: VirtualMachine): Declared => ({
  runStrategy: vm.spec.runStrategy as Declared['runStrategy'],
  cmdline: vm.spec.cmdline ?? '',
  colour: vm.metadata.labels?.[COLOUR_LABEL] ?? '',
});

export class Ledger {
  readonly writes: WriteRecord[] = [];
  private seq = 0;

  nextId(): { seq: number; id: string } {
    const seq = ++this.seq;
    return { seq, id: `w${seq}` };
  }

  record(w: WriteRecord): void {
    this.writes.push(w);
  }

  /** Names the workload ever wrote. */
  names(): string[] {
    return [...new Set(this.writes.map((w) => w.vm))].sort();
  }

  /** Every uid the name has had (from acked creates, and from reads before updates and deletes). */
  uidsOf(name: string): string[] {
    return [...new Set(this.writes.filter((w) => w.vm === name && w.uid).map((w) => w.uid!))];
  }

  /** Checks the final objects (by name, read from etcd; undefined = no key) against every acknowledged write. */
  check(finalObjects: ReadonlyMap<string, VirtualMachine>): { ackedWrites: number; namesChecked: number; lost: LostWrite[] } {
    const lost: LostWrite[] = [];
    for (const name of this.names()) {
      const writes = this.writes.filter((w) => w.vm === name);
      const obj = finalObjects.get(name);
      const finalId = obj?.metadata.labels?.[WRITE_LABEL];
      const rejected = writes.find((w) => w.outcome === 'rejected' && w.id === finalId);
      if (rejected)
        lost.push({
          vm: name,
          write: rejected.id,
          problem: `the object carries write ${rejected.id}, which was answered ${rejected.code}: a rejected write was applied`,
        });
      const lastAcked = [...writes].reverse().find((w) => w.outcome === 'acked');
      if (!lastAcked) continue;
      const after = writes.filter((w) => w.seq > lastAcked.seq && w.outcome === 'ambiguous');
      const deletedLater = after.some((w) => w.op === 'delete' && w.uid === lastAcked.uid);
      if (lastAcked.op === 'delete') {
        if (obj && obj.metadata.uid === lastAcked.uid && !obj.metadata.deletionTimestamp)
          lost.push({
            vm: name,
            write: lastAcked.id,
            problem: `acknowledged delete of ${lastAcked.uid}, but that incarnation is in etcd without a deletionTimestamp`,
          });
        continue;
      }
      if (!obj) {
        if (!deletedLater)
          lost.push({ vm: name, write: lastAcked.id, problem: `acknowledged ${lastAcked.op} of ${lastAcked.uid}, but there is no such object in etcd` });
        continue;
      }
      if (obj.metadata.uid !== lastAcked.uid) {
        if (!deletedLater)
          lost.push({
            vm: name,
            write: lastAcked.id,
            problem: `acknowledged ${lastAcked.op} of ${lastAcked.uid}, but etcd holds another incarnation (${obj.metadata.uid})`,
          });
        continue;
      }
      const source = finalId === lastAcked.id ? lastAcked : after.find((w) => w.id === finalId && w.op !== 'delete');
      if (!source) {
        lost.push({
          vm: name,
          write: lastAcked.id,
          problem: `the last acknowledged write was ${lastAcked.id} (${lastAcked.op}), but the object carries write ${finalId ?? '(none)'}, which is neither it nor a later unanswered one`,
        });
        continue;
      }
      const want = JSON.stringify(source.declared);
      const got = JSON.stringify(declaredOf(obj));
      if (want !== got)
        lost.push({ vm: name, write: source.id, problem: `the object carries write ${source.id} but not all of it: declared ${want}, stored ${got}` });
    }
    return { ackedWrites: this.writes.filter((w) => w.outcome === 'acked').length, namesChecked: this.names().length, lost };
  }
}
