/**
 * Stock kubectl (the installed 1.32) pointed at a test apiserver, for tests that hold shoalctl's
 * output to kubectl's: an empty kubeconfig and a HOME of its own, so the machine's config and
 * discovery cache cannot leak in.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { RunResult } from './shoalctl.js';

export const KUBECTL = '/usr/bin/kubectl';

export interface Kubectl {
  run(args: string[]): Promise<RunResult>;
  /** Removes its HOME. */
  cleanup(): Promise<void>;
}

export async function kubectlFor(serverUrl: string): Promise<Kubectl> {
  const home = await mkdtemp(join(tmpdir(), 'shoal-kubectl-'));
  await writeFile(join(home, 'kubeconfig'), '');
  return {
    async run(args) {
      const r = await execa(KUBECTL, ['--server', serverUrl, '--cache-dir', join(home, 'cache'), ...args], {
        env: { KUBECONFIG: join(home, 'kubeconfig'), HOME: home, PATH: process.env.PATH ?? '' },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 60_000,
        stripFinalNewline: false,
      });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
