/** A boolean query parameter (`watch`, `allowWatchBookmarks`, ...) as Kubernetes reads one: "1", "true" or "True". */
export function queryFlag(value: unknown): boolean {
  return value === '1' || value === 'true' || value === 'True';
}
