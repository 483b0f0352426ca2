/**
 * Admission: the rules about a write that go beyond the object itself — what other objects say
 * (a VM's PriorityClass, its namespace's quotas) — run as kube-apiserver runs its admission
 * plugins, in one order for every write (admission-chain.ts):
 *   1. mutating admission, which may change the object (a VM gets its priority from its class);
 *   2. the object's own checks: its kind's schema and strategy (registry/);
 *   3. validating admission, which may only refuse it (namespace, global default, quota).
 * Plugins read other objects from the watch cache, which costs nothing but may lag etcd. So each
 * pass answers with WriteGuards: conditions on what it read, checked by etcd in the write's own
 * transaction. When one fails, what was read has changed; ResourceService runs the write's
 * admission again with `fresh` set, and the plugins read etcd itself. The outcome is the same as
 * a consistent read at the moment of the write, without a second etcd round trip on every write.
 */
import type { KindInfo, KubeObject } from '@shoal/api';
import type { WriteGuard } from '../storage/object-store.js';

export interface AdmissionAttributes {
  operation: 'create' | 'update';
  kind: KindInfo;
  namespace?: string;
  /** The object to be stored; mutating admission changes it in place. */
  object: KubeObject;
  /** On update: the object as stored. */
  oldObject?: KubeObject;
}

/** One pass of a plugin over the object about to be written: the guards its reads need. */
export type AdmissionPass = (fresh: boolean) => Promise<WriteGuard[]>;

/** Ends a write's turn (see ValidatingAdmission.turn). */
export type EndTurn = () => void;

export interface MutatingAdmission {
  readonly name: string;
  /**
   * The pass a write needs, if any. Asked once per write, before its first attempt, so the pass
   * can keep what the client asked for: a second attempt starts from that, not from what the
   * first one filled in.
   */
  admit(a: AdmissionAttributes): AdmissionPass | undefined;
}

export interface ValidatingAdmission {
  readonly name: string;
  /** The pass a write needs, if any. Asked once per write, after its first validation. */
  validate(a: AdmissionAttributes): AdmissionPass | undefined;
  /**
   * For admission whose writes must take turns (quota: usage read, then written, one write at a
   * time per namespace): resolves when it is this write's turn, with the function that ends it.
   * Asked before each run of this plugin's pass; the turn lasts until the attempt is over.
   */
  turn?(a: AdmissionAttributes): Promise<EndTurn | undefined>;
}
