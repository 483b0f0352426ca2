/**
 * The RBAC objects every cluster starts with (Kubernetes' bootstrap policy), created at apiserver
 * start when missing and otherwise left as they are, so an administrator's edits stay:
 *  - ClusterRole cluster-admin (everything), bound to group system:masters;
 *  - ClusterRole system:monitoring (get /metrics), bound to group system:monitoring, as in
 *    Kubernetes: what a Prometheus needs to scrape the apiserver and nothing more;
 *  - ClusterRole system:shoal-controller-manager with what all the controllers need (scheduler,
 *    preemptor, health, namespace, resourcequota, volume, migration, evacuation, network), bound to user system:shoal-controller-manager;
 *  - Role system:shoal-controller-manager:leader-election in shoal-system (its Leases; a
 *    ClusterRole cannot be limited to one namespace), bound to the same user;
 *  - per controller (Kubernetes' --use-service-account-credentials): ClusterRole
 *    system:shoal:<controller> with only what that controller does, bound to user
 *    system:shoal:<controller>, and Role system:shoal:<controller>:leader-election in shoal-system
 *    for its own Lease (shoal-controller-manager-<controller>); the health controller also reads
 *    node Leases through Role system:shoal:health:node-leases in shoal-node-lease. A
 *    controller-manager run with --controller-tokens-dir uses these; one run with a single token
 *    uses the union above.
 * Node agents need no objects: the Node mode authorizes them.
 */
import { ApiError, BOOTSTRAP_LABEL, kinds, MONITORING_GROUP, NODE_LEASE_NAMESPACE, SYSTEM_NAMESPACE, type KindInfo, type PolicyRule } from '@shoal/api';
import type { ResourceService } from '../registry/resource-service.js';
import { CONTROLLER_MANAGER_USER, SYSTEM_MASTERS } from './user.js';

const GROUP = 'shoal.dev';
export const BOOTSTRAP_LABELS = { [BOOTSTRAP_LABEL]: 'rbac-defaults' };
/** The controllers' leader-election Leases live in the system namespace. */
const LEADER_ELECTION_NAMESPACE = SYSTEM_NAMESPACE;
/** The controller-manager's Lease for one controller (see apps/controller-manager/src/main.ts). */
const LEASE_PREFIX = 'shoal-controller-manager-';

const READ = ['get', 'list', 'watch'];

/** Every namespaced resource the API serves: what deleting a namespace deletes. */
const NAMESPACED_RESOURCES = kinds()
  .all.filter((k) => k.namespaced)
  .map((k) => k.plural);

export const CONTROLLER_MANAGER_RULES: PolicyRule[] = [
  // Informers: the scheduler, preemptor, health, resourcequota, volume and migration controllers read all of these.
  {
    apiGroups: [GROUP],
    resources: [
      'virtualmachines',
      'nodes',
      'leases',
      'placementpolicies',
      'priorityclasses',
      'namespaces',
      'resourcequotas',
      'volumes',
      'storagepools',
      'migrations',
      'networks',
      'ipaddresses',
      'images',
      'backups',
      'diskbackups',
      'backuplocations',
      'restores',
    ],
    verbs: READ,
  },
  // The scheduler binds (one VM, or many at once: POST /apis/shoal.dev/v1alpha1/bindings).
  { apiGroups: [GROUP], resources: ['virtualmachines/binding', 'bindings'], verbs: ['create'] },
  // Preemption annotations and nominations, scheduling conditions, unbinding a fenced node's VMs.
  { apiGroups: [GROUP], resources: ['virtualmachines', 'virtualmachines/status'], verbs: ['patch', 'update'] },
  // Health: Ready conditions and unreachable taints.
  { apiGroups: [GROUP], resources: ['nodes', 'nodes/status'], verbs: ['patch', 'update'] },
  // Namespace: a terminating namespace's contents listed and deleted, then its finalizer and conditions.
  { apiGroups: [GROUP], resources: NAMESPACED_RESOURCES, verbs: ['list', 'delete'] },
  { apiGroups: [GROUP], resources: ['namespaces', 'namespaces/status'], verbs: ['patch', 'update'] },
  // Resourcequota: status.used.
  { apiGroups: [GROUP], resources: ['resourcequotas/status'], verbs: ['patch', 'update'] },
  // Volume: the Volumes VMs own made and collected, the protection finalizer lifted.
  { apiGroups: [GROUP], resources: ['volumes'], verbs: ['create', 'delete', 'patch'] },
  // Migration: its finalizer and status (the VM's move is a virtualmachines patch, above).
  { apiGroups: [GROUP], resources: ['migrations', 'migrations/status'], verbs: ['patch', 'update'] },
  // Evacuation: a Migration for a LiveMigrate VM asked to leave its node.
  { apiGroups: [GROUP], resources: ['migrations'], verbs: ['create'] },
  // Network: an IPAddress per NIC made and released, the Networks' counts (VM interfaces: virtualmachines/status, above).
  { apiGroups: [GROUP], resources: ['ipaddresses'], verbs: ['create', 'delete'] },
  { apiGroups: [GROUP], resources: ['networks/status'], verbs: ['patch', 'update'] },
  // Image: its status, its protection finalizer lifted.
  { apiGroups: [GROUP], resources: ['images', 'images/status'], verbs: ['patch', 'update'] },
  // Backup: its status and finalizer, its DiskBackups made and deleted, expired Backups deleted.
  { apiGroups: [GROUP], resources: ['backups', 'backups/status'], verbs: ['patch', 'update', 'delete'] },
  { apiGroups: [GROUP], resources: ['diskbackups'], verbs: ['create', 'delete'] },
  // Restore: its status; the Volumes and VirtualMachines it makes (volumes: create, above).
  { apiGroups: [GROUP], resources: ['restores/status'], verbs: ['patch', 'update'] },
  { apiGroups: [GROUP], resources: ['virtualmachines'], verbs: ['create'] },
  // GitRepository: its repositories and the Secrets they name (credentials), their status.
  { apiGroups: [GROUP], resources: ['gitrepositories'], verbs: READ },
  { apiGroups: [GROUP], resources: ['secrets'], verbs: ['get'] },
  { apiGroups: [GROUP], resources: ['gitrepositories/status'], verbs: ['patch', 'update'] },
  // Backup schedule: a schedule read afresh before a run; the Backup of each run made, a taken
  // name read, finished ones past retention deleted; the schedule's status.
  { apiGroups: [GROUP], resources: ['backupschedules', 'backups'], verbs: READ },
  { apiGroups: [GROUP], resources: ['backups'], verbs: ['create', 'delete'] },
  { apiGroups: [GROUP], resources: ['backupschedules/status'], verbs: ['patch', 'update'] },
  // GitSync: its sources and credentials read, its status, and what its repositories hold applied
  // and pruned (or, for a sync with spec.serviceAccountName, as that account).
  { apiGroups: [GROUP], resources: ['gitsyncs', 'gitrepositories'], verbs: READ },
  { apiGroups: [GROUP], resources: ['secrets'], verbs: ['get'] },
  { apiGroups: [GROUP], resources: ['gitsyncs/status'], verbs: ['patch', 'update'] },
  { apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
  { apiGroups: ['', GROUP], resources: ['serviceaccounts'], verbs: ['impersonate'] },
  { apiGroups: [GROUP], resources: ['events'], verbs: ['create', 'patch', 'update'] },
];

/** What the system:monitoring group may do: read the metrics (Kubernetes' role also reads health, which is open here). */
export const MONITORING_RULES: PolicyRule[] = [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }];

export const LEADER_ELECTION_RULES: PolicyRule[] = [{ apiGroups: [GROUP], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] }];

/** The user a controller runs as when it has its own token: system:shoal:<controller>. */
export const controllerUser = (controller: string) => `system:shoal:${controller}`;

const EVENTS: PolicyRule = { apiGroups: [GROUP], resources: ['events'], verbs: ['create', 'patch'] };
const LIST_WATCH = ['list', 'watch'];

/**
 * Each controller's rights, as its code uses them (informers list and watch; the rest is each
 * write it makes) and nothing more.
 */
export const CONTROLLER_RULES: Record<
  | 'scheduler'
  | 'preemptor'
  | 'health'
  | 'namespace'
  | 'resourcequota'
  | 'volume'
  | 'migration'
  | 'evacuation'
  | 'network'
  | 'image'
  | 'backup'
  | 'restore'
  | 'gitrepository'
  | 'backup-schedule'
  | 'gitsync',
  PolicyRule[]
> = {
  scheduler: [
    // Informers; get: it asks the server for a VM's live version when a bind's outcome is unknown.
    { apiGroups: [GROUP], resources: ['virtualmachines'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [GROUP], resources: ['nodes', 'placementpolicies'], verbs: LIST_WATCH },
    // Where the VMs' disks are (the VolumePlacement filter).
    { apiGroups: [GROUP], resources: ['volumes', 'storagepools'], verbs: LIST_WATCH },
    { apiGroups: [GROUP], resources: ['virtualmachines/binding', 'bindings'], verbs: ['create'] },
    // Scheduled=False/Unschedulable.
    { apiGroups: [GROUP], resources: ['virtualmachines/status'], verbs: ['patch'] },
    EVENTS,
  ],
  preemptor: [
    { apiGroups: [GROUP], resources: ['virtualmachines', 'nodes', 'placementpolicies', 'priorityclasses', 'volumes', 'storagepools'], verbs: LIST_WATCH },
    // The eviction annotation on victims, the preempted-victims annotation on the preemptor;
    // status.preemptedBy on victims, status.nominatedNodeName on the preemptor.
    { apiGroups: [GROUP], resources: ['virtualmachines', 'virtualmachines/status'], verbs: ['patch'] },
    EVENTS,
  ],
  health: [
    { apiGroups: [GROUP], resources: ['nodes', 'virtualmachines'], verbs: LIST_WATCH },
    // Ready conditions (status) and the unreachable taint (spec).
    { apiGroups: [GROUP], resources: ['nodes', 'nodes/status'], verbs: ['patch'] },
    // A fenced node's VMs: NodeLost status, then unbound (or its dead agent's finalizer lifted).
    { apiGroups: [GROUP], resources: ['virtualmachines', 'virtualmachines/status'], verbs: ['patch'] },
    EVENTS,
  ],
  namespace: [
    // Its informer: which namespaces are terminating.
    { apiGroups: [GROUP], resources: ['namespaces'], verbs: LIST_WATCH },
    // A terminating namespace's contents, listed (no watch: it lists while it waits) and deleted.
    { apiGroups: [GROUP], resources: NAMESPACED_RESOURCES, verbs: ['list', 'delete'] },
    // Its finalizer off an emptied namespace (metadata), the deletion conditions (status).
    { apiGroups: [GROUP], resources: ['namespaces', 'namespaces/status'], verbs: ['patch'] },
    EVENTS,
  ],
  resourcequota: [
    { apiGroups: [GROUP], resources: ['virtualmachines', 'resourcequotas'], verbs: LIST_WATCH },
    // status.used; it writes nothing else (no Events either).
    { apiGroups: [GROUP], resources: ['resourcequotas/status'], verbs: ['patch'] },
  ],
  volume: [
    // Informers; list: a fresh list of VMs before a disk is let go; get: whether a Volume's
    // owner is really gone before it is deleted (the cache may be behind).
    { apiGroups: [GROUP], resources: ['virtualmachines'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [GROUP], resources: ['volumes', 'storagepools'], verbs: LIST_WATCH },
    // Owned Volumes made and collected; the protection finalizer lifted (metadata only: Volume status is the agents').
    { apiGroups: [GROUP], resources: ['volumes'], verbs: ['create', 'delete', 'patch'] },
    EVENTS,
  ],
  migration: [
    // Informers; get: the Migration and its VM read afresh before the steps that cannot be
    // undone (the move, failing one whose transfer runs).
    { apiGroups: [GROUP], resources: ['migrations', 'virtualmachines', 'nodes'], verbs: READ },
    // What a target is chosen with (the scheduler's filters: room, disks).
    { apiGroups: [GROUP], resources: ['placementpolicies', 'volumes', 'storagepools'], verbs: LIST_WATCH },
    // Its finalizer (metadata) and the status it owns (phase, target, reason, ...; not what the agents report).
    { apiGroups: [GROUP], resources: ['migrations', 'migrations/status'], verbs: ['patch', 'update'] },
    // The switchover: the VM's spec.nodeName from the source to the target, in one update.
    { apiGroups: [GROUP], resources: ['virtualmachines'], verbs: ['patch', 'update'] },
    EVENTS,
  ],
  evacuation: [
    { apiGroups: [GROUP], resources: ['virtualmachines', 'migrations'], verbs: LIST_WATCH },
    // One Migration per eviction request of a LiveMigrate VM, and the VM's annotation saying it was started.
    { apiGroups: [GROUP], resources: ['migrations'], verbs: ['create'] },
    { apiGroups: [GROUP], resources: ['virtualmachines'], verbs: ['patch'] },
    EVENTS,
  ],
  network: [
    { apiGroups: [GROUP], resources: ['virtualmachines', 'networks', 'ipaddresses'], verbs: LIST_WATCH },
    // An address taken by creating its IPAddress (one name per address), released by deleting it.
    { apiGroups: [GROUP], resources: ['ipaddresses'], verbs: ['create', 'delete'] },
    // The VM's status.interfaces and NetworksReady condition; the Network's counts.
    { apiGroups: [GROUP], resources: ['virtualmachines/status', 'networks/status'], verbs: ['patch'] },
    EVENTS,
  ],
  image: [
    // Informers, and a fresh list of VMs and Volumes before a deleted image is let go.
    { apiGroups: [GROUP], resources: ['images', 'nodes', 'virtualmachines', 'volumes'], verbs: LIST_WATCH },
    // Its status; its protection finalizer lifted (metadata).
    { apiGroups: [GROUP], resources: ['images', 'images/status'], verbs: ['patch'] },
  ],
  'backup-schedule': [
    // Informers; get: the schedule read afresh before a run is made (the cache may be behind), and
    // the Backup holding a name a run wants (its own, or someone else's).
    { apiGroups: [GROUP], resources: ['backupschedules', 'backups'], verbs: READ },
    // The Backup of each run; its finished ones past retention deleted (their finalizer removes the data).
    { apiGroups: [GROUP], resources: ['backups'], verbs: ['create', 'delete'] },
    // Its status, which it alone writes.
    { apiGroups: [GROUP], resources: ['backupschedules/status'], verbs: ['patch'] },
    EVENTS,
  ],
  gitrepository: [
    // Its informer; get: a repository read afresh when its status write met a conflict.
    { apiGroups: [GROUP], resources: ['gitrepositories'], verbs: READ },
    // The Secret of a repository's spec.secretRef, by name: get only, so it cannot list every Secret.
    { apiGroups: [GROUP], resources: ['secrets'], verbs: ['get'] },
    // Its status, which it alone writes.
    { apiGroups: [GROUP], resources: ['gitrepositories/status'], verbs: ['patch'] },
    EVENTS,
  ],
  backup: [
    { apiGroups: [GROUP], resources: ['backups', 'diskbackups', 'backuplocations', 'virtualmachines', 'volumes', 'nodes'], verbs: LIST_WATCH },
    // Its status and finalizer; an expired Backup deleted.
    { apiGroups: [GROUP], resources: ['backups', 'backups/status'], verbs: ['patch', 'delete'] },
    // A DiskBackup per VM, deleted with the Backup (their agents remove the data).
    { apiGroups: [GROUP], resources: ['diskbackups'], verbs: ['create', 'delete'] },
    EVENTS,
  ],
  gitsync: [
    // Informers; get: the Secret with a GitRepository's credentials (a commit fetched again on a new leader).
    { apiGroups: [GROUP], resources: ['gitsyncs', 'gitrepositories'], verbs: LIST_WATCH },
    { apiGroups: [GROUP], resources: ['secrets'], verbs: ['get'] },
    { apiGroups: [GROUP], resources: ['gitsyncs/status'], verbs: ['patch'] },
    // A GitSync without spec.serviceAccountName applies and prunes whatever its repository holds, as
    // Flux's kustomize-controller does; one with it applies as that account (impersonation) and
    // gets no more than RoleBindings give the account.
    { apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['', GROUP], resources: ['serviceaccounts'], verbs: ['impersonate'] },
    EVENTS,
  ],
  restore: [
    { apiGroups: [GROUP], resources: ['restores', 'backups', 'diskbackups', 'virtualmachines', 'volumes'], verbs: LIST_WATCH },
    { apiGroups: [GROUP], resources: ['restores/status'], verbs: ['patch'] },
    // The Volumes first, then the VMs; each restored Volume then owned by its VM.
    { apiGroups: [GROUP], resources: ['volumes', 'virtualmachines'], verbs: ['create', 'patch'] },
    EVENTS,
  ],
};

/**
 * Node Leases, read by the health controller only, in their namespace only; get: a node that looks
 * silent on the cache is judged again on the apiserver's copy before its VMs move.
 */
export const NODE_LEASE_READ_RULES: PolicyRule[] = [{ apiGroups: [GROUP], resources: ['leases'], verbs: READ }];

/**
 * One controller's leader election in shoal-system: get and update only its own Lease. Create
 * cannot be limited by name (a create's request carries no name, as in Kubernetes' RBAC: a
 * resourceNames rule never matches one), so it may create any Lease in shoal-system.
 */
export const controllerLeaderElectionRules = (controller: string): PolicyRule[] => [
  { apiGroups: [GROUP], resources: ['leases'], verbs: ['create'] },
  { apiGroups: [GROUP], resources: ['leases'], resourceNames: [`${LEASE_PREFIX}${controller}`], verbs: ['get', 'update'] },
];

interface BootstrapObject {
  kind: 'ClusterRole' | 'ClusterRoleBinding' | 'Role' | 'RoleBinding';
  namespace?: string;
  body: Record<string, unknown>;
}

const meta = (name: string, namespace?: string) => ({ name, ...(namespace ? { namespace } : {}), labels: BOOTSTRAP_LABELS });
const roleRef = (kind: 'Role' | 'ClusterRole', name: string) => ({ apiGroup: GROUP, kind, name });

export function bootstrapPolicy(): BootstrapObject[] {
  const cm = CONTROLLER_MANAGER_USER;
  const election = `${cm}:leader-election`;
  return [
    {
      kind: 'ClusterRole',
      body: {
        metadata: meta('cluster-admin'),
        rules: [
          { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
          { nonResourceURLs: ['*'], verbs: ['*'] },
        ],
      },
    },
    {
      kind: 'ClusterRoleBinding',
      body: { metadata: meta('cluster-admin'), subjects: [{ kind: 'Group', name: SYSTEM_MASTERS }], roleRef: roleRef('ClusterRole', 'cluster-admin') },
    },
    { kind: 'ClusterRole', body: { metadata: meta(MONITORING_GROUP), rules: MONITORING_RULES } },
    {
      kind: 'ClusterRoleBinding',
      body: { metadata: meta(MONITORING_GROUP), subjects: [{ kind: 'Group', name: MONITORING_GROUP }], roleRef: roleRef('ClusterRole', MONITORING_GROUP) },
    },
    { kind: 'ClusterRole', body: { metadata: meta(cm), rules: CONTROLLER_MANAGER_RULES } },
    { kind: 'ClusterRoleBinding', body: { metadata: meta(cm), subjects: [{ kind: 'User', name: cm }], roleRef: roleRef('ClusterRole', cm) } },
    { kind: 'Role', namespace: LEADER_ELECTION_NAMESPACE, body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), rules: LEADER_ELECTION_RULES } },
    {
      kind: 'RoleBinding',
      namespace: LEADER_ELECTION_NAMESPACE,
      body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), subjects: [{ kind: 'User', name: cm }], roleRef: roleRef('Role', election) },
    },
    ...Object.entries(CONTROLLER_RULES).flatMap(([controller, rules]) => controllerPolicy(controller, rules)),
  ];
}

function controllerPolicy(controller: string, rules: PolicyRule[]): BootstrapObject[] {
  const user = controllerUser(controller);
  const subjects = [{ kind: 'User', name: user }];
  const election = `${user}:leader-election`;
  const objects: BootstrapObject[] = [
    { kind: 'ClusterRole', body: { metadata: meta(user), rules } },
    { kind: 'ClusterRoleBinding', body: { metadata: meta(user), subjects, roleRef: roleRef('ClusterRole', user) } },
    {
      kind: 'Role',
      namespace: LEADER_ELECTION_NAMESPACE,
      body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), rules: controllerLeaderElectionRules(controller) },
    },
    {
      kind: 'RoleBinding',
      namespace: LEADER_ELECTION_NAMESPACE,
      body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), subjects, roleRef: roleRef('Role', election) },
    },
  ];
  if (controller === 'health') {
    const leases = `${user}:node-leases`;
    objects.push(
      { kind: 'Role', namespace: NODE_LEASE_NAMESPACE, body: { metadata: meta(leases, NODE_LEASE_NAMESPACE), rules: NODE_LEASE_READ_RULES } },
      {
        kind: 'RoleBinding',
        namespace: NODE_LEASE_NAMESPACE,
        body: { metadata: meta(leases, NODE_LEASE_NAMESPACE), subjects, roleRef: roleRef('Role', leases) },
      },
    );
  }
  return objects;
}

/** Creates each bootstrap object that does not exist yet (several apiservers may race: AlreadyExists is fine). */
export async function ensureBootstrapPolicy(service: ResourceService, kindOf: (kind: string) => KindInfo): Promise<void> {
  for (const o of bootstrapPolicy()) {
    const kind = kindOf(o.kind);
    try {
      await service.create(kind, o.namespace, { apiVersion: kind.apiVersion, kind: kind.kind, ...o.body }, { fieldValidation: 'Strict', dryRun: false });
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    }
  }
}
