/**
 * The ports `shoal up` listens on, checked before anything starts: each a whole number 1-65535
 * (etcd's own default peer port is the client port + 1), and no two the same — every one of them
 * is on this machine, and a clash would only show as one process failing to start.
 */
export function portsError(ports: Record<string, number>): string | undefined {
  const seen = new Map<number, string>();
  for (const [flag, port] of Object.entries(ports)) {
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) return `--${flag} must be a port number 1-65535, got ${port}`;
    const other = seen.get(port);
    if (other) return `--${flag} and --${other} are both ${port}: each needs a port of its own`;
    seen.set(port, flag);
  }
  return undefined;
}
