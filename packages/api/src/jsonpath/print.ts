/**
 * Results printed as kubectl prints them (client-go jsonpath PrintResults, run by a Go binary):
 * maps and lists as compact JSON with sorted keys and Go's HTML-safe escapes, strings as they
 * are, whole numbers as integers, other numbers as Go's %v does (`1e+06`), null as `null`; the
 * results of one node joined by spaces. `asJson` (`-o jsonpath-as-json`) prints each node's
 * results as one indented JSON array instead.
 */
import type { Found } from './evaluate.js';

export function printResults(results: Found[], asJson = false): string {
  if (asJson)
    return `${goJson(
      results.map((r) => r.value),
      4,
    )}\n`;
  return results.map(printOne).join(' ');
}

function printOne(found: Found): string {
  const { value } = found;
  if (typeof value === 'object' && value !== null) return goJson(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return found.kind === 'float' || !Number.isInteger(value) ? goFloat(value) : String(value);
  return String(value);
}

/** encoding/json's Marshal (or MarshalIndent): keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(sortKeys(value), null, indent) ?? 'null';
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
}

/**
 * A float64 as Go's fmt prints it with %v, strconv.FormatFloat(f, 'g', -1, 64): the shortest
 * digits that read back the same, in exponent form when the exponent is below -4 or at least 6
 * (`1.2345675e+06`, `1e-05`), else as a decimal (`123456.5`, `0.25`).
 */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa, exp] = f.toExponential().split('e') as [string, string];
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 6) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return String(f);
}
