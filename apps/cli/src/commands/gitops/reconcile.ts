/**
 * `gitops reconcile SYNC [--with-source]`: ask for a pass now (the reconcile-requested-at
 * annotation; with --with-source, a fetch of its GitRepository first) and wait until the
 * controller answers it, then print the sync's Ready condition. Exit 1 when it is not Ready.
 */
import { findCondition, RECONCILE_REQUESTED_ANNOTATION, type Condition, type GitRepository, type GitSync, type KubeObject } from '@shoal/api';
import type { KindName, ShoalClient } from '@shoal/client';
import { ExitError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';

export interface GitopsReconcileArgs extends GlobalArgs {
  sync: string;
  withSource: boolean;
  timeout: number;
}

/** A GitRepository or GitSync: both say which request they answered last. */
type Answering = KubeObject & { status?: { lastHandledReconcileAt?: string; conditions?: Condition[] } };

async function request(client: ShoalClient, kind: KindName, name: string, namespace: string | undefined, deadline: number): Promise<Answering> {
  const at = new Date().toISOString();
  await client.patch(kind, name, { metadata: { annotations: { [RECONCILE_REQUESTED_ANNOTATION]: at } } }, { type: 'merge', namespace });
  for (;;) {
    const object = await client.get<Answering>(kind, name, { namespace });
    if (object.status?.lastHandledReconcileAt === at) return object;
    if (Date.now() > deadline) throw new Error(`${String(kind)} ${name} did not answer within the timeout (is the gitops controller running?)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function gitopsReconcile(args: GitopsReconcileArgs): Promise<void> {
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  const deadline = Date.now() + args.timeout * 1000;
  try {
    const sync = await client.get<GitSync>('gitsync', args.sync, { namespace });
    if (args.withSource) {
      process.stderr.write(`► fetching gitrepository ${sync.spec.sourceRef.name}\n`);
      const repo = (await request(client, 'gitrepository', sync.spec.sourceRef.name, namespace, deadline)) as GitRepository;
      process.stderr.write(`✔ ${repo.status?.artifact?.revision ?? 'no revision'}\n`);
    }
    process.stderr.write(`► reconciling gitsync ${args.sync}\n`);
    const done = (await request(client, 'gitsync', args.sync, namespace, deadline)) as GitSync;
    const ready = findCondition(done.status?.conditions, 'Ready');
    if (ready?.status === 'True') {
      process.stdout.write(`gitsync.shoal.dev/${args.sync} reconciled: ${ready.message}\n`);
      return;
    }
    process.stderr.write(`gitsync.shoal.dev/${args.sync} not ready: ${ready?.reason ?? 'Unknown'}: ${ready?.message ?? ''}\n`);
    throw new ExitError(1);
  } finally {
    await client.close();
  }
}
