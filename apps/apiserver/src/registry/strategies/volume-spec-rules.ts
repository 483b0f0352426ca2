/** The rules of a VolumeSpec a JSON Schema cannot say, shared by Volumes and VM volume templates. */
import type { StatusCause, VolumeSpec } from '@shoal/api';

const cause = (field: string, message: string, type = 'FieldValueInvalid'): StatusCause => ({ field, message, type });

/** At most one source; a blank disk needs a size (an image or a clone takes its source's). */
export function volumeSpecCauses(spec: VolumeSpec, at: string): StatusCause[] {
  const source = spec.source ?? {};
  const given = (['blank', 'image', 'volume', 'backup'] as const).filter((k) => source[k] !== undefined);
  if (given.length > 1)
    return [cause(`${at}.source`, `Invalid value: at most one of blank, image, volume and backup may be given, got ${given.join(' and ')}`)];
  if (given.length === 0 || given[0] === 'blank') {
    if (spec.sizeGiB === undefined) return [cause(`${at}.sizeGiB`, 'Required value: a blank volume needs a size', 'FieldValueRequired')];
  }
  return [];
}

/** What may not change once a Volume exists: its pool and source; its size may only grow. */
export function volumeSpecUpdateCauses(before: VolumeSpec, after: VolumeSpec, at: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const f of ['pool', 'source'] as const)
    if (JSON.stringify(after[f] ?? null) !== JSON.stringify(before[f] ?? null))
      causes.push(cause(`${at}.${f}`, `Invalid value: ${JSON.stringify(after[f] ?? null)}: field is immutable (it was ${JSON.stringify(before[f] ?? null)})`));
  if (before.sizeGiB !== undefined && (after.sizeGiB ?? 0) < before.sizeGiB)
    causes.push(cause(`${at}.sizeGiB`, `Invalid value: ${after.sizeGiB ?? null}: a volume may grow, never shrink (it is ${before.sizeGiB} GiB)`));
  return causes;
}
