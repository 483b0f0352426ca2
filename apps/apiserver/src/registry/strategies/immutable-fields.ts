/** Fields that never change after creation, as Kubernetes words the refusal. */
import { canonicalJson, type StatusCause } from '@shoal/api';

/** A cause for each of `fields` of a spec that differs from before (a field removed differs too; objects by their content). */
export function immutableFieldChanges<T extends object>(before: T, after: T, fields: readonly (keyof T & string)[]): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const f of fields)
    if (after[f] !== before[f] && canonicalJson(after[f] ?? null) !== canonicalJson(before[f] ?? null))
      causes.push({
        field: `spec.${f}`,
        type: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(after[f] ?? null)}: field is immutable (it was ${JSON.stringify(before[f] ?? null)})`,
      });
  return causes;
}
