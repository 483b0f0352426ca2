/**
 * What CLI tests need besides startCluster (@shoal/testing): the real shoalctl binary run as a
 * child process, the way users and scripts run it. HOME points at an empty directory so a config
 * file on the machine running the tests cannot leak in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ShoalClient } from '@shoal/client';
import { REPO_ROOT } from '@shoal/testing';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Made once per test file; a promise, so runs started side by side share it. */
let home: Promise<string> | undefined;

export async function shoalctl(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  home ??= mkdtemp(join(tmpdir(), 'shoalctl-home-'));
  const { SHOAL_SERVER: _s, SHOAL_CONFIG: _c, ...env } = process.env;
  const r = await execa('node', [`${REPO_ROOT}bin/shoalctl.js`, ...args], {
    reject: false,
    input: opts.input ?? '',
    env: { ...env, HOME: await home, ...opts.env },
    extendEnv: false,
    cwd: opts.cwd ?? REPO_ROOT,
    timeout: 120_000,
    stripFinalNewline: false,
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** shoalctl left running (`logs -f`, `migrate`, `get -w`): its output so far, and the process to signal or await. */
export interface RunningShoalctl {
  child: ResultPromise;
  stdout(): string;
  stderr(): string;
}

export async function startShoalctl(args: string[], opts: RunOptions = {}): Promise<RunningShoalctl> {
  home ??= mkdtemp(join(tmpdir(), 'shoalctl-home-'));
  const { SHOAL_SERVER: _s, SHOAL_CONFIG: _c, ...env } = process.env;
  const child = execa('node', [`${REPO_ROOT}bin/shoalctl.js`, ...args], {
    reject: false,
    buffer: false,
    input: opts.input ?? '',
    env: { ...env, HOME: await home, ...opts.env },
    extendEnv: false,
    cwd: opts.cwd ?? REPO_ROOT,
    timeout: 120_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

export async function removeTestHome(): Promise<void> {
  if (home) await rm(await home, { recursive: true, force: true });
  home = undefined;
}

export async function createNamespace(client: ShoalClient, name: string): Promise<void> {
  await client.create('Namespace', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Namespace', metadata: { name } });
}

export function vmYaml(name: string, opts: { namespace?: string; vcpus?: number; labels?: Record<string, string>; extraSpec?: string } = {}): string {
  const labels = Object.entries(opts.labels ?? {})
    .map(([k, v]) => `\n    ${k}: ${v}`)
    .join('');
  return [
    'apiVersion: shoal.dev/v1alpha1',
    'kind: VirtualMachine',
    'metadata:',
    `  name: ${name}`,
    ...(opts.namespace ? [`  namespace: ${opts.namespace}`] : []),
    ...(labels ? [`  labels:${labels}`] : []),
    'spec:',
    '  resources:',
    `    vcpus: ${opts.vcpus ?? 1}`,
    ...(opts.extraSpec ? [opts.extraSpec] : []),
    '',
  ].join('\n');
}
