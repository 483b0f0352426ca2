/** JSON merge patch, RFC 7386: objects merge recursively, `null` deletes, everything else replaces. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isJsonObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
      continue;
    }
    const merged = applyMergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value);
    // A key named __proto__ is data like any other (JSON.parse makes it an own property); plain
    // assignment would replace the result's prototype instead and smuggle fields past validation.
    // Every other key is simply assigned (defining each one made a VM status patch ~11 % slower).
    if (key === '__proto__') Object.defineProperty(result, key, { value: merged, enumerable: true, writable: true, configurable: true });
    else result[key] = merged;
  }
  return result;
}
