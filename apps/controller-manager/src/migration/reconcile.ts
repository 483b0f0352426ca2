/**
 * reconcile(ctx, "namespace/name") for the migration controller (STYLE.md 1–3): read the
 * Migration, its VM and the nodes from the informer caches, let decide() (decide.ts) pick the
 * one next step, and carry it out:
 *
 *   addFinalizer / removeFinalizer   metadata merge patch pinned to the Migration's resourceVersion
 *   transition                       /status merge patch pinned to it: phase, the transition
 *                                    appended (16 at most), what the phase sets, reason, message,
 *                                    observedGeneration, the Succeeded condition; then Events on
 *                                    the Migration and its VM (target chosen, ended) and metrics
 *   move                             the switchover: ONE merge patch of the VM's spec.nodeName
 *                                    from the source to the target, pinned to the VM's
 *                                    resourceVersion (the apiserver keeps the guest's status on
 *                                    such a move); then the Moved condition
 *   note                             the status message and the Moved condition, when they differ
 *   none                             wait: the agents' status writes, the VM's and the nodes'
 *                                    changes requeue the key; deadlines by requeueAfterMs
 *
 * Nothing here waits: a write that conflicts (409) or fails throws, and the queue backs off and
 * reconciles the key again from fresh state.
 *
 * The two steps that cannot be undone — moving the VM, and failing or aborting a Migration
 * whose transfer runs — are decided again on the apiserver's own state before they are taken
 * (a GET of the Migration and of the VM), as the volume controller checks before it lets a disk
 * go: the cache may not show yet the move or the failure this controller wrote a moment ago.
 * With the queue handing one key to one worker at a time, that keeps "moved ⇒ never failed" and
 * "failed ⇒ never moved". The move skips the GETs when the cache already holds this process's
 * last write of the Migration (ownWrites): nobody else fails one, and the VM's write is pinned
 * to the version the decision read. The guest is paused at that moment: two round trips less of
 * downtime.
 */
import {
  currentAttempt,
  objectKey,
  findCondition,
  ignoreNotFound,
  isTerminalMigrationPhase,
  MIGRATION_PROTECTION_FINALIZER,
  migrationIsActive,
  setCondition,
  timestamp,
  type Condition,
  type Migration,
  type MigrationStatus,
  type Node,
  type PlacementPolicy,
  type VirtualMachine,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { StorageLookup } from '@shoal/scheduler';
import type { Logger } from 'pino';
import { decide, isIrreversible, moved, MOVED_CONDITION, type Limits, type Observed, type Step, type Transition } from './decide.js';
import type { MigrationMetrics } from './metrics.js';
import { chooseTarget, localDiskGiB, type Incoming } from './placement.js';
import { vmKeyOf, type VmClaims } from './vm-claims.js';

/** Event reasons besides the failure reasons (decide.ts), which Failed and Aborted Events carry. */
export const TARGET_SELECTED = 'TargetSelected';
export const MIGRATED = 'Migrated';
export const FELL_BACK_TO_COLD = 'FellBackToCold';

/** The condition every write keeps: Unknown while under way, True once Succeeded, False once Failed or Aborted (Tekton's `Succeeded`). */
export const SUCCEEDED_CONDITION = 'Succeeded';

const MAX_TRANSITIONS = 16;

export interface MigrationContext {
  client: ShoalClient;
  migrations: Pick<Informer<Migration>, 'get' | 'list'>;
  vms: Pick<Informer<VirtualMachine>, 'get' | 'list'>;
  nodes: Pick<Informer<Node>, 'get' | 'list'>;
  policies: Pick<Informer<PlacementPolicy>, 'list'>;
  storage: StorageLookup;
  /** VM key → the keys of the Migrations naming it. */
  byVm: { sources(vmKey: string): string[] };
  claims: VmClaims;
  /** Migration key → resourceVersion of this process's last write of it. */
  ownWrites: Map<string, string>;
  recorder: EventRecorder;
  log: Logger;
  metrics?: MigrationMetrics;
  limits: Limits;
  now?: () => number;
}

export async function reconcile(ctx: MigrationContext, key: string): Promise<Result> {
  const cached = ctx.migrations.get(key);
  if (!cached) {
    ctx.ownWrites.delete(key);
    return {};
  }
  let observed = observe(ctx, key, cached);
  let step = decide(observed);
  if (isIrreversible(step, cached.status?.phase) && !(step.type === 'move' && holdsOwnLastWrite(ctx, key, cached))) {
    const live = await readLive(ctx, cached);
    if (!live) return {};
    observed = { ...observe(ctx, key, live.migration), vm: live.vm };
    step = decide(observed);
  }
  return act(ctx, key, observed, step);
}

/** What decide() reads, from the caches (the Migration as its current attempt has it). */
function observe(ctx: MigrationContext, key: string, read: Migration): Observed {
  const migration = currentAttempt(read);
  const vmKey = vmKeyOf(migration);
  const vm = ctx.vms.get(vmKey);
  const others = ctx.byVm
    .sources(vmKey)
    .filter((k) => k !== key)
    .flatMap((k) => ctx.migrations.get(k) ?? []);
  const status = migration.status ?? {};
  const observed: Observed = {
    migration,
    vm,
    node: (name) => ctx.nodes.get(name),
    others,
    claimedBy: otherHolder(ctx, vmKey, key),
    localDiskGiB: vm ? localDiskGiB(vm, ctx.storage) : 0,
    now: now(ctx),
    limits: ctx.limits,
  };
  if (status.phase === 'Scheduling' && vm && status.sourceNode && !migration.metadata.deletionTimestamp)
    observed.placement = chooseTarget({
      vm,
      sourceNode: status.sourceNode,
      requested: migration.spec.targetNode,
      nodes: ctx.nodes.list(),
      vms: ctx.vms.list(),
      policies: ctx.policies.list(),
      storage: ctx.storage,
      incoming: incoming(ctx),
    });
  return observed;
}

/** The name of another Migration holding the VM, if it is still active; a claim of one that ended is let go. */
function otherHolder(ctx: MigrationContext, vmKey: string, key: string): string | undefined {
  const holder = ctx.claims.holder(vmKey);
  if (holder === undefined || holder === key) return undefined;
  const holding = ctx.migrations.get(holder);
  if (holding && migrationIsActive(holding)) return holding.metadata.name;
  ctx.claims.observe(holder, holding, vmKey);
  return undefined;
}

/** The VMs other Migrations are moving (targets chosen, not moved yet): they hold room on their targets. */
function* incoming(ctx: MigrationContext): Iterable<Incoming> {
  for (const m of ctx.migrations.list()) {
    const s = m.status ?? {};
    if (!s.targetNode || !migrationIsActive(m) || s.phase === 'Pending' || s.phase === 'Scheduling') continue;
    const vm = ctx.vms.get(vmKeyOf(m));
    if (!vm || vm.metadata.uid !== s.vmUID || vm.spec.nodeName === s.targetNode || moved({ migration: m, vm })) continue;
    yield { vm, nodeName: s.targetNode, migration: m.metadata.name! };
  }
}

/** Whether the cached Migration is this process's last write of it, or newer: then it shows any failure this process wrote. */
function holdsOwnLastWrite(ctx: MigrationContext, key: string, cached: Migration): boolean {
  const written = ctx.ownWrites.get(key);
  const seen = cached.metadata.resourceVersion;
  return written !== undefined && seen !== undefined && BigInt(seen) >= BigInt(written);
}

/** The Migration and its VM as the apiserver has them now; undefined when the Migration is gone (or another one by its name). */
async function readLive(ctx: MigrationContext, cached: Migration): Promise<{ migration: Migration; vm?: VirtualMachine } | undefined> {
  const { name, namespace, uid } = cached.metadata;
  const migration = await ignoreNotFound(ctx.client.get<Migration>('migration', name!, { namespace }));
  if (!migration || migration.metadata.uid !== uid) return undefined;
  const vm = await ignoreNotFound(ctx.client.get<VirtualMachine>('vm', migration.spec.vmName, { namespace }));
  return { migration, vm };
}

async function act(ctx: MigrationContext, key: string, o: Observed, step: Step): Promise<Result> {
  const m = o.migration;
  switch (step.type) {
    case 'none':
      return step.requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(1, Math.ceil(step.requeueAfterMs)) } : {};
    case 'addFinalizer':
      await patchMeta(ctx, m, [...(m.metadata.finalizers ?? []), MIGRATION_PROTECTION_FINALIZER]);
      return {};
    case 'removeFinalizer': {
      const rest = (m.metadata.finalizers ?? []).filter((f) => f !== MIGRATION_PROTECTION_FINALIZER);
      await patchMeta(ctx, m, rest.length ? rest : null);
      ctx.log.info({ migration: key, phase: m.status?.phase }, 'migration ended; protection finalizer removed');
      return {};
    }
    case 'transition':
      return transition(ctx, key, o, step.to);
    case 'move':
      return move(ctx, key, o, step);
    case 'note':
      return note(ctx, o, step.message, step.moved);
  }
}

async function transition(ctx: MigrationContext, key: string, o: Observed, to: Transition): Promise<Result> {
  const m = o.migration;
  // Taken before the write, with nothing awaited since the decision: no other worker lets
  // another Migration of this VM past Pending meanwhile (vm-claims.ts).
  if (to.phase === 'Scheduling' && !ctx.claims.claim(vmKeyOf(m), key))
    throw new Error(`VirtualMachine ${m.spec.vmName} was claimed by another Migration meanwhile`);
  const at = now(ctx);
  const status = m.status ?? {};
  const ended = isTerminalMigrationPhase(to.phase);
  const patch: Record<string, unknown> = {
    phase: to.phase,
    phaseTransitions: [...(status.phaseTransitions ?? []), { phase: to.phase, time: new Date(at).toISOString() }].slice(-MAX_TRANSITIONS),
    ...to.set,
    // A fallback starts the attempt over: nothing of the Live one may steer the Cold one.
    ...(to.fallBackFrom ? { source: null, target: null, targetNode: null, totalBytes: null, transferredBytes: null, remainingBytes: null } : {}),
    reason: to.reason ?? null,
    message: to.message,
    observedGeneration: m.metadata.generation,
    conditions: setCondition(
      status.conditions,
      {
        type: SUCCEEDED_CONDITION,
        status: to.phase === 'Succeeded' ? 'True' : ended ? 'False' : 'Unknown',
        reason: to.reason ?? to.phase,
        message: to.message,
      },
      timestamp(at),
    ),
  };
  const written = await patchStatus(ctx, m, patch);
  if (!written) return {};
  const from = status.phase ?? 'Pending';
  ctx.log.info({ migration: key, from, to: to.phase, reason: to.reason, message: to.message }, 'migration phase changed');

  const vm = o.vm && (!status.vmUID || o.vm.metadata.uid === status.vmUID) ? o.vm : undefined;
  const both = (type: 'Normal' | 'Warning', reason: string, message: string) => {
    ctx.recorder.event(written, type, reason, message);
    if (vm) ctx.recorder.event(vm, type, reason, `Migration ${m.metadata.name}: ${message}`);
  };
  if (to.fallBackFrom) {
    both('Warning', FELL_BACK_TO_COLD, to.message);
    ctx.metrics?.fellBack(to.fallBackFrom.reason);
  }
  if (to.phase === 'PreparingTarget')
    both('Normal', TARGET_SELECTED, `moving VirtualMachine ${m.spec.vmName} from node ${status.sourceNode} to node ${to.set?.targetNode}`);
  else if (to.phase === 'Succeeded') {
    both('Normal', MIGRATED, to.message);
    ctx.metrics?.ended('Succeeded', '', to.set?.downtimeMs);
  } else if (to.phase === 'Failed' || to.phase === 'Aborted') {
    both('Warning', to.reason!, to.message);
    ctx.metrics?.ended(to.phase, to.reason);
  }
  return {};
}

async function move(ctx: MigrationContext, key: string, o: Observed, step: Extract<Step, { type: 'move' }>): Promise<Result> {
  const { vm, from, to } = step;
  const { name, namespace, resourceVersion } = vm.metadata;
  // One write moves it: the apiserver sees spec.nodeName go from one node to another and keeps
  // the guest's phase, address and boot time (the VirtualMachine strategy's movedStatus). Pinned
  // to the version just read: a VM changed meanwhile is looked at again (409 → retry).
  const movedVm = await ctx.client.patch<VirtualMachine>('vm', name!, { metadata: { resourceVersion }, spec: { nodeName: to } }, { type: 'merge', namespace });
  ctx.log.info({ migration: key, vm: `${namespace}/${name}`, from, to }, 'switchover: VirtualMachine moved to the target node');
  // Recorded at once (the Moved condition), so the move is known even if the VM goes before the target reports.
  const next = decide({ ...o, vm: movedVm });
  return next.type === 'move' ? {} : act(ctx, key, { ...o, vm: movedVm }, next);
}

async function note(ctx: MigrationContext, o: Observed, message: string, isMoved: boolean): Promise<Result> {
  const m = o.migration;
  const status = m.status ?? {};
  const at = timestamp(now(ctx));
  let conditions: Condition[] = setCondition(
    status.conditions,
    { type: SUCCEEDED_CONDITION, status: 'Unknown', reason: status.phase ?? 'Pending', message },
    at,
  );
  if (isMoved)
    conditions = setCondition(
      conditions,
      {
        type: MOVED_CONDITION,
        status: 'True',
        reason: 'Switchover',
        message: `VirtualMachine ${m.spec.vmName} moved from node ${status.sourceNode} to node ${status.targetNode}`,
      },
      at,
    );
  const same = (type: string) => JSON.stringify(findCondition(conditions, type)) === JSON.stringify(findCondition(status.conditions, type));
  if (status.message === message && same(SUCCEEDED_CONDITION) && same(MOVED_CONDITION)) return {};
  await patchStatus(ctx, m, { message, observedGeneration: m.metadata.generation, conditions });
  return {};
}

function patchMeta(ctx: MigrationContext, m: Migration, finalizers: string[] | null): Promise<Migration | undefined> {
  const { name, namespace, resourceVersion } = m.metadata;
  // Pinned to the version read: a finalizer someone else added or removed meanwhile is not undone (409 → retry).
  return recorded(
    ctx,
    m,
    ignoreNotFound(ctx.client.patch<Migration>('migration', name!, { metadata: { resourceVersion, finalizers } }, { type: 'merge', namespace })),
  );
}

function patchStatus(ctx: MigrationContext, m: Migration, status: Partial<Record<keyof MigrationStatus, unknown>>): Promise<Migration | undefined> {
  const { name, namespace, resourceVersion } = m.metadata;
  return recorded(
    ctx,
    m,
    ignoreNotFound(ctx.client.patch<Migration>('migration', name!, { metadata: { resourceVersion }, status }, { type: 'merge', status: true, namespace })),
  );
}

/**
 * Remembers the version a write of a Migration produced (ownWrites). A write whose outcome is
 * unknown (no answer) may have landed at a version not remembered: then nothing is, until the
 * next write answers.
 */
async function recorded(ctx: MigrationContext, m: Migration, write: Promise<Migration | undefined>): Promise<Migration | undefined> {
  const key = objectKey(m.metadata);
  try {
    const written = await write;
    if (written?.metadata.resourceVersion) ctx.ownWrites.set(key, written.metadata.resourceVersion);
    return written;
  } catch (err) {
    ctx.ownWrites.delete(key);
    throw err;
  }
}

const now = (ctx: MigrationContext) => ctx.now?.() ?? Date.now();
