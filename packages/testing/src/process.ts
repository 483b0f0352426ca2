/** Starts a Shoal binary as a real child process and waits for its ready line. */
import { execa, type ResultPromise } from 'execa';
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

export async function startProcess(bin: string, args: string[], opts: { ready: RegExp; timeoutMs?: number; env?: Record<string, string> }): Promise<ShoalProcess & { readyLine: string }> {
  const proc: ResultPromise = execa('node', [`${REPO_ROOT}bin/${bin}.js`, ...args], {
    reject: false,
    all: true,
    buffer: false,
    env: opts.env,
    cwd: REPO_ROOT,
  });
  let out = '';
  const exited = proc.then((r) => ({ exitCode: r.exitCode, signal: r.signal }));
  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} not ready after ${opts.timeoutMs ?? 20_000} ms:\n${out}`)), opts.timeoutMs ?? 20_000);
    proc.all!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => opts.ready.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then((r) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${r.exitCode ?? r.signal}) before it was ready:\n${out}`));
    });
  });
  // Keep draining so the child never blocks on a full pipe.
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
  url: string;
  port: number;
}

export async function startApiserver(opts: { etcd: string; port: number; args?: string[] }): Promise<ApiserverProcess> {
  const p = await startProcess('shoal-apiserver', ['--etcd-servers', opts.etcd, '--port', String(opts.port), ...(opts.args ?? [])], {
    ready: /listening on/,
  });
  return { ...p, url: `http://127.0.0.1:${opts.port}`, port: opts.port };
}
