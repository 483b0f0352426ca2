/** Fields that never change after creation, as Kubernetes words the refusal. */
import type { StatusCause } from '@shoal/api';

/** A cause for each of `fields` of a spec that differs from before (a field removed differs too). */
export function immutableFieldChanges<T extends object>(before: T, after: T, fields: readonly (keyof T & string)[]): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const f of fields)
    if (after[f] !== before[f])
      causes.push({
        field: `spec.${f}`,
        type: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(after[f] ?? null)}: field is immutable (it was ${JSON.stringify(before[f] ?? null)})`,
      });
  return causes;
}
