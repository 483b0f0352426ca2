/**
 * Whether two JSON values would serialise to the same JSON up to the order of keys, as
 * canonicalJson(a) === canonicalJson(b) says — members whose value is undefined are absent,
 * other undefined values are null — but without building either string, and stopping
 * at the first difference. The apiserver asks this of whole objects on every write.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  // undefined as a value serialises as null (a member that is undefined is skipped below).
  if (a === b || ((a === undefined || a === null) && (b === undefined || b === null))) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let members = 0;
  for (const key of Object.keys(x)) {
    const value = x[key];
    if (value === undefined) continue;
    members++;
    if (!Object.hasOwn(y, key) || !jsonEqual(value, y[key])) return false;
  }
  for (const key of Object.keys(y)) if (y[key] !== undefined) members--;
  return members === 0;
}
