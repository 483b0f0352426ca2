/**
 * Several reading admissions (priority, then quota) as the one ReadingAdmission the resource
 * service takes: their passes run in order on every attempt and the write carries all their
 * guards; a write waits for the turn of each admission that wants one.
 */
import type { KindInfo, KubeObject } from '@shoal/api';
import type { WriteGuard } from '../storage/object-store.js';
import type { AdmissionPass } from './priority-admission.js';
import type { ReadingAdmission } from './resource-service.js';

function inOrder(passes: (AdmissionPass | undefined)[]): AdmissionPass | undefined {
  const present = passes.filter((p): p is AdmissionPass => p !== undefined);
  if (present.length <= 1) return present[0];
  return async (fresh) => {
    const guards: WriteGuard[] = [];
    for (const pass of present) guards.push(...(await pass(fresh)));
    return guards;
  };
}

export function admissionChain(...admissions: ReadingAdmission[]): ReadingAdmission {
  return {
    forCreate: (kind: KindInfo, object: KubeObject) => inOrder(admissions.map((a) => a.forCreate(kind, object))),
    forUpdate: (kind: KindInfo, next: KubeObject, current: KubeObject) => inOrder(admissions.map((a) => a.forUpdate(kind, next, current))),
    async exclusive(kind: KindInfo, namespace: string | undefined) {
      const ends: (() => void)[] = [];
      for (const a of admissions) {
        const end = await a.exclusive?.(kind, namespace);
        if (end) ends.push(end);
      }
      return ends.length ? () => ends.reverse().forEach((end) => end()) : undefined;
    },
  };
}
