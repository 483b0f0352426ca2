/**
 * A deep copy of a JSON value — objects, arrays, strings, numbers, booleans, null — which is what
 * API objects are. Several times faster than structuredClone, which runs the structured
 * serializer to carry types JSON has not; the apiserver's write path copies whole objects (the
 * cache's copy before patching it, the current status kept through an update) on every request.
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = cloneJson((value as Record<string, unknown>)[key]);
    // A "__proto__" member is data (JSON.parse makes it an own property): never the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out as T;
}
