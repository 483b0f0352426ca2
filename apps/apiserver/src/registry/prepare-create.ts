/**
 * A new object as the server takes it, before admission and validation (kube-apiserver's
 * rest.BeforeCreate): the envelope checked, a name (generated from generateName if asked for),
 * identity and bookkeeping set by the server whatever the client sent, no status (it is written
 * through /status), then what the kind's strategy sets itself. managedFields stay as sent: the
 * field manager (apply/field-manager.ts) judges them once the object is final. Pure, so every
 * rule is tested without a store.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalid, timestamp, type KindInfo, type KubeObject } from '@shoal/api';
import { checkEnvelope } from './object-envelope.js';
import { strategyFor } from './kind-strategies.js';

function generatedName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const bytes = randomBytes(5);
  return prefix + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export function prepareCreate(kind: KindInfo, body: unknown, namespace: string | undefined, now = new Date()): KubeObject {
  const obj = checkEnvelope(kind, body, namespace);
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = generatedName(meta.generateName);
  if (!meta.name)
    throw invalid({ kind: kind.kind, group: kind.group }, [
      { field: 'metadata.name', message: 'Required value: name or generateName is required', type: 'FieldValueRequired' },
    ]);
  // Identity and bookkeeping are the server's; whatever the client sent there is replaced.
  meta.uid = randomUUID();
  meta.creationTimestamp = timestamp(now);
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  // Status is written by controllers through /status, never by the creator.
  if (kind.hasStatus) delete obj.status;
  strategyFor(kind).prepareForCreate?.(obj);
  return obj;
}

/** After schema validation and defaulting: the kind's rules across fields (422 with the causes). */
export function finishCreate(kind: KindInfo, object: KubeObject): void {
  const strategy = strategyFor(kind);
  const causes = [...(strategy.validate?.(object) ?? []), ...(strategy.validateCreate?.(object) ?? [])];
  if (causes.length) throw invalid({ kind: kind.kind, group: kind.group, name: object.metadata.name }, causes);
}
