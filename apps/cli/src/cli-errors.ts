/** The two errors the CLI itself raises; everything else comes from the client or the server. */

/** The command line is wrong (exit 2): a missing argument, flags that contradict each other. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command already told the user what failed (per object, on stderr) and only needs to exit non-zero. */
export class ExitError extends Error {
  constructor(readonly exitCode = 1) {
    super(`exit ${exitCode}`);
    this.name = 'ExitError';
  }
}
