/**
 * Timestamps as the API writes them: RFC 3339 in UTC to the second (`2026-12-02T19:35:09Z`),
 * as Kubernetes' metav1.Time serialises.
 */
export function timestamp(at: Date | number = new Date()): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
