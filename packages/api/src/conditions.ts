/**
 * Conditions, as Kubernetes' meta.SetStatusCondition: one per type in an object's
 * status.conditions, each written only by the component that owns that type (see the README's
 * table of status owners).
 */
import type { Condition } from './model/generated.js';

export type ConditionStatus = Condition['status'];

/** The condition of this type, if the list has one. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether the condition of this type is there with status True. */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * The list with `next` in place of the condition of its type (appended when there was none),
 * the others untouched and in order. lastTransitionTime says when the status last changed, so it
 * is `now` only when the status changes (or the condition is new); a new reason or message alone
 * keeps the old time.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const list = conditions ?? [];
  const before = findCondition(list, next.type);
  const lastTransitionTime = before && before.status === next.status && before.lastTransitionTime ? before.lastTransitionTime : now;
  const condition: Condition = { ...next, lastTransitionTime };
  return before ? list.map((c) => (c.type === next.type ? condition : c)) : [...list, condition];
}

/** The list without the condition of this type. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
