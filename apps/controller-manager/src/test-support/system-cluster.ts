/**
 * A cluster for the namespace, resourcequota, volume and migration controllers: a real etcd, a real apiserver
 * process and the real shoal-controller-manager process running only the controllers asked for,
 * which a test may kill and start again (a restart mid-way).
 *
 * With `secured` it is run as `shoal up` runs it: the apiserver authenticates tokens
 * (--token-auth-file), authorizes with Node,RBAC (the bootstrap policy's per-controller roles)
 * and appends every write to an audit log, and the controller-manager runs each controller as
 * its own user system:shoal:<controller> (--controller-tokens-dir). The test's client is an
 * admin (system:masters).
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import { readAuditLog, startCluster, type ShoalProcess, type TestCluster } from '@shoal/testing';

export interface SystemCluster {
  cp: TestCluster;
  /** As an admin. */
  client: ShoalClient;
  /** As an admin, one client per apiserver (each talks to that one only). */
  clients: ShoalClient[];
  /** The controller-manager running now, if any. */
  cm?: ShoalProcess;
  /** Starts a controller-manager (after a kill, say); the cluster stops it at the end. */
  startControllerManager(): Promise<ShoalProcess>;
  /** Every entry of the audit log so far (secured clusters only). */
  audit(): Promise<AuditEntry[]>;
}

const ADMIN_TOKEN = 'admin-token';
const controllerToken = (controller: string) => `${controller}-token`;

export async function withSystemCluster(
  opts: {
    controllers: string[];
    secured?: boolean;
    /** More controller-manager flags. */
    args?: string[];
    /** Apiservers on the one etcd (1); the controller-manager is given them all. */
    apiservers?: number;
  },
  fn: (c: SystemCluster) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-system-controllers-'));
  const auditLog = join(dir, 'audit.log');
  const tokensDir = join(dir, 'controller-tokens');
  let apiserverArgs: string[] = [];
  let credentials: string[] = [];
  if (opts.secured) {
    const lines = [`${ADMIN_TOKEN},admin,1,system:masters`, ...opts.controllers.map((c, i) => `${controllerToken(c)},system:shoal:${c},${100 + i},`)];
    await writeFile(join(dir, 'tokens.csv'), `${lines.join('\n')}\n`);
    await mkdir(tokensDir, { mode: 0o700 });
    for (const c of opts.controllers) await writeFile(join(tokensDir, `${c}.token`), `${controllerToken(c)}\n`, { mode: 0o600 });
    apiserverArgs = ['--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'Node,RBAC', '--audit-log-path', auditLog];
    credentials = ['--controller-tokens-dir', tokensDir];
  }
  const cp = await startCluster({ apiserverArgs, apiservers: opts.apiservers, client: { token: opts.secured ? ADMIN_TOKEN : undefined } });
  const cluster: SystemCluster = {
    cp,
    client: cp.client,
    clients: cp.apiservers.map((a) => new ShoalClient({ server: a.url, token: opts.secured ? ADMIN_TOKEN : undefined })),
    async startControllerManager() {
      const cm = await cp.startControllerManager({ controllers: opts.controllers, args: [...credentials, ...(opts.args ?? [])] });
      cluster.cm = cm;
      return cm;
    },
    audit: () => readAuditLog(auditLog),
  };
  try {
    await cluster.startControllerManager();
    await fn(cluster);
  } finally {
    for (const c of cluster.clients) await c.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Lines of a controller-manager's output where the apiserver refused it something. */
export function refusals(cm: ShoalProcess): string[] {
  // \b: a port such as 44037 in the ready line is not a 403.
  return cm
    .output()
    .split('\n')
    .filter((l) => /forbidden|\b403\b/i.test(l));
}
