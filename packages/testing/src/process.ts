/** Starts a Shoal binary as a real child process and waits for its ready line. */
import { execa, type ResultPromise } from 'execa';
import { nodeOptionsOf } from '@shoal/api';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ShoalProcess {
  pid: number;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  exited: Promise<{ exitCode?: number; signal?: string }>;
}

export interface StartProcessOptions {
  /** The process is ready once a line of its output matches. */
  ready: RegExp;
  /** How long to wait for that line (20 s). */
  timeoutMs?: number;
  env?: Record<string, string>;
  /**
   * A command that runs node for us, given before it: `['ip', 'netns', 'exec', 'ns1']` starts the
   * process inside network namespace ns1. It must exec node in its own place (as `ip netns exec`
   * does), so `pid` is node's and signals reach it.
   */
  prefix?: string[];
  /**
   * Flags for node itself, given before the script (`--max-semi-space-size=64`): V8 sizes its
   * heap when it starts, so no setting made once the script runs can do it.
   */
  nodeOptions?: string[];
}

/**
 * With SHOAL_CPU_PROF_DIR set, every process started here writes a V8 CPU profile there when it
 * exits (`node --cpu-prof`; NODE_OPTIONS may not carry that flag): how a benchmark's CPU time is
 * split between components and functions.
 */
function profileArgs(): string[] {
  const dir = process.env.SHOAL_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * Runs `bin` (a command under bin/, `shoal-apiserver`, or the path of a script) with node and
 * waits until a line of its output matches `ready`. A process that is not ready in time is
 * SIGKILLed and waited for before the error is thrown: a failed start leaves nothing running.
 */
export async function startProcess(bin: string, args: string[], opts: StartProcessOptions): Promise<ShoalProcess & { readyLine: string }> {
  const isCommand = !bin.includes('/');
  const script = isCommand ? `${REPO_ROOT}bin/${bin}.js` : bin;
  // A command's own flags (as its bin line has them), then the caller's: node takes the last of a flag given twice.
  const nodeOptions = [...(isCommand ? nodeOptionsOf(bin) : []), ...(opts.nodeOptions ?? [])];
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const [command, ...prefixArgs] = [...(opts.prefix ?? []), 'node'];
  const proc: ResultPromise = execa(command!, [...prefixArgs, ...nodeOptions, ...profileArgs(), script, ...args], {
    reject: false,
    all: true,
    buffer: false,
    env: opts.env,
    cwd: REPO_ROOT,
  });
  let out = '';
  let ready = false;
  const exited = proc.then((r) => ({ exitCode: r.exitCode, signal: r.signal }));
  let readyLine: string;
  try {
    readyLine = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${bin} (pid ${proc.pid}) not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
      // Keeps draining after the ready line, so the child never blocks on a full pipe. Once
      // ready, the output is only kept: splitting all of it at every chunk cost this process CPU
      // in proportion to how much the child had printed (quadratic over a long benchmark).
      proc.all!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (ready) return;
        const line = out.split('\n').find((l) => opts.ready.test(l));
        if (line) {
          ready = true;
          clearTimeout(timer);
          resolve(line);
        }
      });
      void exited.then((r) => {
        clearTimeout(timer);
        reject(new Error(`${bin} exited (${r.exitCode ?? r.signal}) before it was ready:\n${out}`));
      });
    });
  } catch (err) {
    proc.kill('SIGKILL');
    await exited;
    throw err;
  }
  return {
    pid: proc.pid!,
    readyLine,
    output: () => out,
    exited,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ApiserverProcess extends ShoalProcess {
  readyLine: string;
  /** Where it serves, from its ready line: `http://127.0.0.1:PORT`, or https:// with --tls-cert-file. */
  url: string;
  port: number;
}

export async function startApiserver(opts: { etcd: string; port: number; args?: string[] }): Promise<ApiserverProcess> {
  const p = await startProcess('shoal-apiserver', ['--etcd-servers', opts.etcd, '--port', String(opts.port), ...(opts.args ?? [])], {
    ready: /listening on/,
  });
  const url = /listening on (\S+)/.exec(p.readyLine)?.[1] ?? `http://127.0.0.1:${opts.port}`;
  return { ...p, url, port: opts.port };
}
