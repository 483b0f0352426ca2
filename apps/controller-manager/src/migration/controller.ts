/**
 * The migration controller's wiring (STYLE.md 4): it drives each Migration through its phases
 * (decide.ts), chooses targets with the scheduler's plugins (placement.ts), and moves the VM at
 * the switchover (reconcile.ts). The node agents do the moving of bytes: the target's reports
 * status.target, the source's status.source; this controller owns the rest of the status.
 * Keys are Migration identities, `namespace/name`.
 *
 *   Migration added/updated/deleted        → that Migration (the agents' reports are updates)
 *   VM changed where it matters (node,     → the Migrations naming it (the VM index below)
 *   uid, phase, deletion), or deleted
 *   Node added/deleted, or its Ready,      → every active Migration (a target to choose, a
 *   labels, spec or room changed             source or target gone NotReady)
 *   PlacementPolicy, Volume, StoragePool   → nothing: read when a target is chosen, which is
 *                                            done once, at Scheduling
 *   (no event at all)                      → a Migration waiting on an agent wakes itself at
 *                                            its deadline (requeueAfterMs)
 *
 * An index kept by the same handlers that feed the queue maps a VM to the Migrations naming it
 * (the volume controller's KeyIndex), and VmClaims (vm-claims.ts) keeps one active Migration per
 * VM; both are rebuilt from the informers' first lists before any reconcile runs.
 *
 * Two workers: Migrations are few, and one whose reconcile waits on the apiserver (the re-read
 * before a move) does not hold up another's phase change. The queue never hands one key to two
 * workers, which the safety of the move relies on (reconcile.ts).
 */
import { migrationIsActive, objectKey, type Migration, type Node, type PlacementPolicy, type VirtualMachine } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import { allocatableOf } from '@shoal/scheduler';
import type { ControllerEnv } from '../controller-env.js';
import { storageInformers } from '../placement/storage-lookup.js';
import { KeyIndex } from '../volume/key-index.js';
import { MigrationMetrics } from './metrics.js';
import { reconcile, type MigrationContext } from './reconcile.js';
import { VmClaims, vmKeyOf } from './vm-claims.js';

export const MIGRATION_NAME = 'migration';
export const MIGRATION_COMPONENT = 'shoal-migration-controller';

/** What of a VM a Migration reads: which incarnation, where, whether it runs, whether it goes. */
const vmView = (vm: VirtualMachine) =>
  JSON.stringify([vm.metadata.uid, vm.spec.nodeName ?? null, vm.status?.phase ?? null, Boolean(vm.metadata.deletionTimestamp)]);

/** What of a node a Migration reads: the filters' inputs and whether it is Ready. */
function nodeView(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return JSON.stringify([node.metadata.labels ?? {}, node.spec ?? {}, allocatableOf(node), ready]);
}

export function migrationController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: MIGRATION_NAME });
  const migrations = env.informers.informer<Migration>('migration');
  const vms = env.informers.informer<VirtualMachine>('vm');
  const nodes = env.informers.informer<Node>('node');
  // Read when a target is chosen; nothing to requeue when they change.
  const policies = env.informers.informer<PlacementPolicy>('placementpolicy');
  const storage = storageInformers(env);
  /** Migration key → the key of the VM it names. */
  const byVm = new KeyIndex();
  const claims = new VmClaims();
  const ctx: MigrationContext = {
    client: env.client,
    migrations,
    vms,
    nodes,
    policies,
    storage: storage.lookup,
    byVm,
    claims,
    ownWrites: new Map(),
    recorder: env.recorder(MIGRATION_COMPONENT),
    log,
    metrics: new MigrationMetrics(env.registry),
    // Read at each reconcile: a reload of the config file changes them.
    limits: {
      get minCompletionTimeoutMs() {
        return env.settings.migrationMinCompletionTimeoutSeconds * 1000;
      },
      get targetReadyTimeoutMs() {
        return env.settings.migrationTargetReadyTimeoutSeconds * 1000;
      },
    },
  };
  const controller = new Controller({ name: MIGRATION_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const activeMigrations = () =>
    migrations
      .list()
      .filter(migrationIsActive)
      .map((m) => objectKey(m.metadata));

  const onMigration: EventHandler<Migration> = (change) => {
    const m = change.object;
    const key = objectKey(m.metadata);
    const vmKey = vmKeyOf(m);
    if (change.type === 'delete') byVm.delete(key);
    else byVm.set(key, [vmKey]);
    claims.observe(key, change.type === 'delete' ? undefined : m, vmKey);
    return [key];
  };
  const onVm: EventHandler<VirtualMachine> = (change) => {
    if (change.type === 'update' && vmView(change.old) === vmView(change.object)) return [];
    return byVm.sources(objectKey(change.object.metadata));
  };
  const onNode: EventHandler<Node> = (change) => {
    if (change.type === 'update' && nodeView(change.old) === nodeView(change.object)) return [];
    return activeMigrations();
  };
  return controller.watch(nodes, onNode).watch(vms, onVm).watch(migrations, onMigration);
}
