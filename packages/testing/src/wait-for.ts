/**
 * Polls a condition until it holds or a deadline passes: the only way tests wait. On timeout the
 * error says what was awaited and what the last probe saw (its error, or the state it read).
 */
import { ApiError, type Kinds } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the error when the deadline passes: what was awaited. */
  message?: string;
  /** What the last probe saw, said in the error when the deadline passes (unless that probe threw). */
  lastSeen?: () => string | undefined;
}

export async function waitFor<T>(probe: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = lastError === undefined ? opts.lastSeen?.() : undefined;
      const why =
        lastError !== undefined
          ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`
          : seen !== undefined
            ? `; last seen: ${seen}`
            : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.message ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export interface WaitForObjectOptions extends Omit<WaitOptions, 'lastSeen'> {
  /** The object's namespace; the client's default (`default`) when absent. Ignored for cluster-scoped kinds. */
  namespace?: string;
}

/** The kind's `namespace/name` (or `name`) as a test names it: `VirtualMachine default/web`. */
const describeObject = (kind: string, name: string, namespace?: string) => `${kind} ${namespace ? `${namespace}/` : ''}${name}`;

/** An object as an error shows it: everything but managedFields, cut short past 2000 characters. */
function showObject(obj: unknown): string {
  const { metadata, ...rest } = obj as { metadata?: Record<string, unknown> };
  const { managedFields: _, ...meta } = metadata ?? {};
  const text = JSON.stringify({ metadata: meta, ...rest });
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}

/**
 * Gets the object until `ok` holds for it, and answers it. On timeout the error names the object
 * and what was awaited (`message`), with the object as last seen, or the last error (NotFound…).
 *
 *   const vm = await waitForObject(client, 'VirtualMachine', 'web', (v) => v.status?.phase === 'Running', { message: 'Running' });
 */
export async function waitForObject<K extends keyof Kinds>(
  client: ShoalClient,
  kind: K,
  name: string,
  ok: (obj: Kinds[K]) => boolean,
  opts: WaitForObjectOptions = {},
): Promise<Kinds[K]> {
  const { namespace, message, ...wait } = opts;
  let last: Kinds[K] | undefined;
  return waitFor(
    async () => {
      last = await client.get<Kinds[K]>(kind, name, { namespace });
      return ok(last) ? last : undefined;
    },
    {
      ...wait,
      message: `${describeObject(kind, name, namespace)}${message ? `: ${message}` : ' to match'}`,
      lastSeen: () => (last ? showObject(last) : undefined),
    },
  );
}

/** Waits until the object is gone (a get answers 404 NotFound), after a delete: its finalizers done. */
export async function waitForGone(client: ShoalClient, kind: keyof Kinds, name: string, opts: WaitForObjectOptions = {}): Promise<void> {
  const { namespace, message, ...wait } = opts;
  let last: unknown;
  await waitFor(
    async () => {
      try {
        last = await client.get(kind, name, { namespace });
        return false;
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) return true;
        throw err;
      }
    },
    {
      ...wait,
      message: `${describeObject(kind, name, namespace)}${message ? `: ${message}` : ' to be gone'}`,
      lastSeen: () => (last ? showObject(last) : undefined),
    },
  );
}
