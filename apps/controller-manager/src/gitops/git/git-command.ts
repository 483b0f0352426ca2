/**
 * Runs one git command for the cache: real git through execa, never a shell, bounded by the
 * fetch's deadline (spec.timeout) and its AbortSignal, and failing with the first line of what
 * git said, cleaned of credentials.
 *
 * Every run gets the same defensive settings, whatever the machine's git config says:
 *   protocol.version=2        upload-pack then serves any commit reachable from a ref when it
 *                             is asked for by its SHA (spec.ref.commit), local or remote, as
 *                             uploadpack.allowReachableSHA1InWant does for protocol v0: so a
 *                             commit is fetched shallow by SHA from a file:// URL or a plain
 *                             path too, without touching the source repository's config
 *   credential.helper=        (empty) no helper of the machine's stores or offers a password
 *   gc.autoDetach=false       an automatic gc runs inside the command, so no git process is left
 *                             behind in the background once the fetch has answered
 *   GIT_TERMINAL_PROMPT=0     git fails instead of asking; GIT_ASKPASS empty unless credentials.ts
 *                             sets it, so no askpass program of the machine's is asked either
 *   GIT_ALLOW_PROTOCOL        only file, git, http(s) and ssh: never ext:: (runs a command) or fd::
 *   LC_ALL=C                  messages in English, as status conditions show them
 */
import { execa } from 'execa';
import { GitOperationError } from './git-errors.js';

const CONFIG = ['-c', 'protocol.version=2', '-c', 'credential.helper=', '-c', 'gc.autoDetach=false', '-c', 'advice.detachedHead=false'];

/** What a run of git is bounded by and runs with, shared by the commands of one fetch or checkout. */
export interface GitRun {
  /** Past this time (ms since the epoch) the command is stopped and the operation failed. */
  deadline: number;
  /** How long the operation may take, for the message when it did not finish in time. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Environment for credentials (credentials.ts). */
  env: Record<string, string>;
  /** Values that must never reach a message (passwords, keys). */
  secrets: string[];
  /** Standard input (`update-ref --stdin`); none when absent. */
  input?: string;
}

const BASE_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '',
  GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
  GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
  LC_ALL: 'C',
};

/** Runs `git <args>` (in `gitDir` when given) and answers its standard output. */
export async function git(args: string[], run: GitRun, gitDir?: string): Promise<string> {
  const left = run.deadline - Date.now();
  if (left <= 0) throw timedOut(args, run);
  if (run.signal?.aborted) throw cancelled(args);
  const child = execa('git', [...(gitDir ? ['--git-dir', gitDir] : []), ...CONFIG, ...args], {
    env: { ...BASE_ENV, ...run.env },
    ...(run.input !== undefined ? { input: run.input } : { stdin: 'ignore' as const }),
    reject: false,
    // Its own process group: git leaves its remote helper (git-remote-http, ssh) running when it
    // is terminated, so a timeout or a cancel stops the whole group, not git alone.
    detached: true,
    maxBuffer: 64 * 1024 * 1024,
  });
  let stopped: 'timeout' | 'cancel' | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (stopped) return;
    stopped = why;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 1_000).unref();
  };
  const timer = setTimeout(() => stop('timeout'), left);
  const onAbort = () => stop('cancel');
  run.signal?.addEventListener('abort', onAbort, { once: true });
  if (child.pid !== undefined) running.add(child.pid);
  let result;
  try {
    result = await child;
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
    if (child.pid !== undefined) running.delete(child.pid);
  }
  if (stopped) {
    // git itself has gone; what it started may not have.
    signalGroup(child.pid, 'SIGKILL');
    throw stopped === 'timeout' ? timedOut(args, run) : cancelled(args);
  }
  if (result.exitCode !== 0) {
    const said = firstErrorLine(String(result.stderr ?? ''));
    const what = said ? `: ${said}` : ` (exit code ${result.exitCode ?? result.signal})`;
    throw new GitOperationError(redact(`git ${args[0]} failed${what}`, run.secrets));
  }
  return String(result.stdout ?? '');
}

/** The process groups of the git commands running now: stopped with this process, which would otherwise leave them (they are detached). */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) signalGroup(pid, 'SIGKILL');
});

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group has gone already
  }
}

const cancelled = (args: string[]) => new GitOperationError(`git ${args[0]} was cancelled`);
const timedOut = (args: string[], run: GitRun) =>
  new GitOperationError(`git ${args[0]} did not finish within the timeout of ${Math.round(run.timeoutMs / 100) / 10}s (spec.timeout)`, true);

/**
 * The line of git's standard error that says what went wrong: the first `fatal:` or `error:`
 * line (warnings and progress come before it), else the first line.
 */
export function firstErrorLine(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0];
}

/**
 * A message with every secret replaced by `***`, and the user:password part of any URL too (a
 * URL written with its credentials in spec.url ends up in git's messages as it was written).
 */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*:[^/@\s]*@/gi, '$1***@');
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}
