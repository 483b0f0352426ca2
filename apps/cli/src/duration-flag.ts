/** A duration flag (`--timeout 90s`, `5m`, `1h30m`) in milliseconds; a bad one is a usage error (exit 2). */
import { parseDuration } from '@shoal/api';
import { UsageError } from './cli-errors.js';

export function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}
