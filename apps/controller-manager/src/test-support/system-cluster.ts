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
 *
 * The tests of a file that ask for the same cluster (controllers, secured, apiservers) share its
 * etcd and apiservers: each test gets controller-managers of its own, which are stopped after it,
 * and before the next one whatever it made is deleted (shared-cluster.ts) and the cluster must hold exactly what
 * it held when new; if it does not (a bootstrap role edited, say), it is stopped and the next test
 * gets a new one. So every test still begins with a cluster as new.
 */
import { after } from 'node:test';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import { readAuditLog, startCluster, type ShoalProcess, type TestCluster } from '@shoal/testing';
import { everyObject, putBack, type ClusterObjects } from './shared-cluster.js';

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
  /** Every entry of the audit log since the test began (secured clusters only). */
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
  // The tests of a file that ask for the same cluster share it (its etcd, apiservers and files),
  // each with controller-managers of its own and the cluster put back as new before it.
  const key = JSON.stringify([opts.controllers, Boolean(opts.secured), opts.apiservers ?? 1]);
  const base = await sharedCluster(key, opts);
  const { cp } = base;
  const auditFrom = (await readAuditLog(base.auditLog)).length;
  const managers: ShoalProcess[] = [];
  const cluster: SystemCluster = {
    cp,
    client: cp.client,
    clients: cp.apiservers.map((a) => new ShoalClient({ server: a.url, token: opts.secured ? ADMIN_TOKEN : undefined })),
    async startControllerManager() {
      const cm = await cp.startControllerManager({ controllers: opts.controllers, args: [...base.credentials, ...(opts.args ?? [])] });
      managers.push(cm);
      cluster.cm = cm;
      return cm;
    },
    // What this test's cluster logged: a new cluster's log would hold nothing of the tests before.
    audit: async () => (await readAuditLog(base.auditLog)).slice(auditFrom),
  };
  try {
    await cluster.startControllerManager();
    await fn(cluster);
  } finally {
    for (const c of cluster.clients) await c.close();
    await Promise.all(managers.map((m) => m.stop()));
    // Put back by the next test that wants it, if there is one.
    base.dirty = true;
  }
}

interface SharedCluster {
  cp: TestCluster;
  dir: string;
  auditLog: string;
  /** The controller-manager's flags for its per-controller tokens (secured clusters). */
  credentials: string[];
  /** Every object when it was new. */
  baseline: ClusterObjects;
  /** Once a test has used it. */
  dirty: boolean;
}

/** The file's clusters, by what they were asked for. */
const shared = new Map<string, Promise<SharedCluster>>();

after(async () => {
  const all = [...shared.values()];
  shared.clear();
  for (const s of all) {
    const c = await s.catch(() => undefined);
    if (c) await stopShared(c);
  }
});

async function sharedCluster(key: string, opts: { controllers: string[]; secured?: boolean; apiservers?: number }): Promise<SharedCluster> {
  const existing = await shared.get(key)?.catch(() => undefined);
  if (existing?.dirty) {
    existing.dirty = false;
    try {
      await putBack(existing.cp.client, existing.baseline);
    } catch (err) {
      // Not as it was: no test may use it again.
      shared.delete(key);
      await stopShared(existing);
      process.stderr.write(`system-cluster: a new cluster: ${(err as Error).message}\n`);
    }
  }
  let entry = shared.get(key);
  if (!entry) shared.set(key, (entry = startShared(opts)));
  return entry;
}

async function startShared(opts: { controllers: string[]; secured?: boolean; apiservers?: number }): Promise<SharedCluster> {
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
  let cp: TestCluster | undefined;
  try {
    cp = await startCluster({ apiserverArgs, apiservers: opts.apiservers, client: { token: opts.secured ? ADMIN_TOKEN : undefined } });
    return { cp, dir, auditLog, credentials, baseline: await everyObject(cp.client), dirty: false };
  } catch (err) {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopShared(c: SharedCluster): Promise<void> {
  await c.cp.stop();
  await rm(c.dir, { recursive: true, force: true });
}

/** Lines of a controller-manager's output where the apiserver refused it something. */
export function refusals(cm: ShoalProcess): string[] {
  // \b: a port such as 44037 in the ready line is not a 403.
  return cm
    .output()
    .split('\n')
    .filter((l) => /forbidden|\b403\b/i.test(l));
}
