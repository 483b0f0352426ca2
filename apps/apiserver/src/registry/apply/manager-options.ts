/**
 * The query parameters that say who writes (`fieldManager`) and whether an apply may take fields
 * over (`force`), checked as Kubernetes checks CreateOptions, UpdateOptions and PatchOptions:
 * a manager name is at most 128 printable characters; an apply must name its manager (a
 * controller's fields must not be credited to whatever its HTTP library calls itself); `force`
 * belongs to apply alone. A write that names no manager is credited to the start of its
 * User-Agent (`kubectl/v1.32.0 (linux/amd64) ...` → `kubectl`), as Kubernetes does.
 */
import { badRequest, invalid } from '@shoal/api';

export const FIELD_MANAGER_MAX_LENGTH = 128;

/** Who a write is credited to when it names no manager and sends no User-Agent. */
export const UNNAMED_MANAGER = 'unknown';

export type OptionsKind = 'CreateOptions' | 'UpdateOptions' | 'PatchOptions';

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u;

const optionsError = (options: OptionsKind, field: string, message: string, type: string) =>
  invalid({ kind: options, group: 'meta.k8s.io' }, [{ field, message, type }]);

/** The text before the first `/`, without unprintable characters, cut to 128 characters. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = [...(userAgent ?? '').split('/')[0]!].filter((c) => !NON_PRINTABLE.test(c)).join('');
  return prefix.slice(0, FIELD_MANAGER_MAX_LENGTH) || UNNAMED_MANAGER;
}

/** The manager a write is credited to; 422 for a name Kubernetes would refuse, or none on an apply. */
export function fieldManagerOf(options: OptionsKind, fieldManager: string | undefined, userAgent: string | undefined, apply = false): string {
  if (fieldManager === undefined || fieldManager === '') {
    if (apply) throw optionsError(options, 'fieldManager', 'Required value: is required for apply patch', 'FieldValueRequired');
    return managerFromUserAgent(userAgent);
  }
  if ([...fieldManager].length > FIELD_MANAGER_MAX_LENGTH)
    throw optionsError(options, 'fieldManager', `Too long: may not be more than ${FIELD_MANAGER_MAX_LENGTH} characters`, 'FieldValueTooLong');
  const bad = [...fieldManager].findIndex((c) => NON_PRINTABLE.test(c));
  if (bad >= 0) {
    const code = fieldManager.codePointAt([...fieldManager].slice(0, bad).join('').length)!;
    throw optionsError(
      options,
      'fieldManager',
      `Invalid value: invalid character U+${code.toString(16).toUpperCase().padStart(4, '0')} (at position ${bad})`,
      'FieldValueInvalid',
    );
  }
  return fieldManager;
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** The `force` parameter of a patch (Go's boolean spellings); only an apply may give it. */
export function forceOf(force: string | undefined, apply: boolean): boolean {
  if (force === undefined) return false;
  if (!apply) throw optionsError('PatchOptions', 'force', 'Forbidden: may not be specified for non-apply patch', 'FieldValueForbidden');
  if (TRUE.has(force)) return true;
  if (FALSE.has(force)) return false;
  throw badRequest(`force must be true or false, got ${JSON.stringify(force)}`, [{ field: 'force', message: 'Invalid value' }]);
}
