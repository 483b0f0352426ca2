/**
 * Timestamps as the API writes them: RFC 3339 in UTC to the second (`2026-12-02T19:35:09Z`),
 * as Kubernetes' metav1.Time serialises.
 */

/** The last second written out: a busy apiserver stamps thousands of writes within one. */
let last = { second: NaN, text: '' };

export function timestamp(at: Date | number = Date.now()): string {
  const second = Math.floor((typeof at === 'number' ? at : at.getTime()) / 1000);
  if (second !== last.second) last = { second, text: new Date(second * 1000).toISOString().replace('.000Z', 'Z') };
  return last.text;
}
