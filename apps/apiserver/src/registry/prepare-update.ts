/**
 * An update as the server takes it (kube-apiserver's rest.BeforeUpdate), in two halves around
 * admission and schema validation:
 *  - prepareUpdate: the envelope checked against the URL and the stored object; identity and
 *    bookkeeping kept as stored; status changed only through /status, and only status there
 *    (but for what the kind's strategy changes itself: prepareForUpdate);
 *  - finishUpdate, after validation: the kind's own refusals and canonical form (strategy.ts),
 *    then the generation, which moves with every change of the desired state.
 * Pure, so every rule is tested without a store.
 */
import { cloneJson, badRequest, invalid, jsonEqual, type KindInfo, type KubeObject } from '@shoal/api';
import { checkEnvelope } from './object-envelope.js';
import { checkUidPrecondition } from './preconditions.js';
import { strategyFor } from './kind-strategies.js';

export interface UpdateRequest {
  kind: KindInfo;
  namespace?: string;
  name: string;
  body: unknown;
  current: KubeObject;
  subresource?: 'status';
}

const target = (kind: KindInfo, name?: string) => ({ kind: kind.kind, group: kind.group, name });

/** The object the update would store, before validation. */
export function prepareUpdate(req: UpdateRequest): KubeObject {
  const { kind, current } = req;
  const incoming = checkEnvelope(kind, req.body, req.namespace);
  const meta = incoming.metadata;
  if (meta.name !== undefined && meta.name !== req.name)
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${req.name})`, [
      { field: 'metadata.name', message: `must be ${req.name}` },
    ]);
  checkUidPrecondition(kind, req.name, meta.uid, current);

  let next: KubeObject;
  if (req.subresource === 'status') {
    // The status endpoint changes status only; a controller cannot rewrite the spec by accident.
    const { status: _replaced, ...kept } = current;
    next = { ...cloneJson(kept), status: incoming.status };
  } else {
    next = { ...incoming, metadata: { ...incoming.metadata } };
    if (kind.hasStatus) {
      if (current.status === undefined) delete next.status;
      else next.status = cloneJson(current.status);
    }
    const m = next.metadata;
    m.name = req.name;
    m.uid = current.metadata.uid;
    m.creationTimestamp = current.metadata.creationTimestamp;
    m.generation = current.metadata.generation;
    // managedFields stay as sent (none: as stored), for the field manager to judge (apply/field-manager.ts).
    if (current.metadata.deletionTimestamp) {
      m.deletionTimestamp = current.metadata.deletionTimestamp;
      m.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
      const added = (m.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length)
        throw invalid(target(kind, req.name), [
          {
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
            type: 'FieldValueForbidden',
          },
        ]);
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    strategyFor(kind).prepareForUpdate?.(next, current);
  }
  next.metadata.resourceVersion = current.metadata.resourceVersion;
  return next;
}

/** Everything except metadata and status: a change here is a new generation (an order of keys is no change). */
function sameDesiredState(a: KubeObject, b: KubeObject): boolean {
  return jsonEqual({ ...a, metadata: undefined, status: undefined }, { ...b, metadata: undefined, status: undefined });
}

/** After schema validation and defaulting: the kind's refusals and canonical form, then the generation. */
export function finishUpdate(kind: KindInfo, next: KubeObject, current: KubeObject): void {
  const strategy = strategyFor(kind);
  const causes = [...(strategy.validate?.(next) ?? []), ...(strategy.validateUpdate?.(next, current) ?? [])];
  if (causes.length) throw invalid(target(kind, next.metadata.name), causes);
  // Before the generation is decided: it may fill in fields the body left out.
  strategy.canonicalizeUpdate?.(next, current);
  if (!sameDesiredState(next, current)) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
}
