/**
 * Whether a request asks for a dry run (check and answer as if done, store nothing): `All` among
 * the values of a dryRun query parameter (given once or repeated) or of a DeleteOptions body's
 * dryRun list. `All` is the only value Kubernetes defines; the query schemas and the DeleteOptions
 * schema refuse any other before this is asked.
 */
export function isDryRun(dryRun: string | readonly unknown[] | null | undefined): boolean {
  return ([] as unknown[]).concat(dryRun ?? []).includes('All');
}
