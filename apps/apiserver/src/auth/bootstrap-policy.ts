/**
 * The RBAC objects every cluster starts with (Kubernetes' bootstrap policy), created at apiserver
 * start when missing and otherwise left as they are, so an administrator's edits stay:
 *  - ClusterRole cluster-admin (everything), bound to group system:masters;
 *  - ClusterRole system:shoal-controller-manager with what the scheduler, preemptor and health
 *    controllers need, bound to user system:shoal-controller-manager;
 *  - Role system:shoal-controller-manager:leader-election in shoal-system (its Leases; a
 *    ClusterRole cannot be limited to one namespace), bound to the same user.
 * Node agents need no objects: the Node mode authorizes them.
 */
import { ApiError, type KindInfo } from '@shoal/api';
import type { ResourceService } from '../registry/resource-service.js';
import type { PolicyRule } from './rbac-authorizer.js';
import { CONTROLLER_MANAGER_USER, SYSTEM_MASTERS } from './user.js';

const GROUP = 'shoal.dev';
export const BOOTSTRAP_LABELS = { 'shoal.dev/bootstrapping': 'rbac-defaults' };
const LEADER_ELECTION_NAMESPACE = 'shoal-system';

const READ = ['get', 'list', 'watch'];

export const CONTROLLER_MANAGER_RULES: PolicyRule[] = [
  // Informers: the scheduler, preemptor and health controllers read all of these.
  { apiGroups: [GROUP], resources: ['virtualmachines', 'nodes', 'leases', 'placementpolicies', 'priorityclasses', 'namespaces'], verbs: READ },
  // The scheduler binds.
  { apiGroups: [GROUP], resources: ['virtualmachines/binding'], verbs: ['create'] },
  // Preemption annotations and nominations, scheduling conditions, unbinding a fenced node's VMs.
  { apiGroups: [GROUP], resources: ['virtualmachines', 'virtualmachines/status'], verbs: ['patch', 'update'] },
  // Health: Ready conditions and unreachable taints.
  { apiGroups: [GROUP], resources: ['nodes', 'nodes/status'], verbs: ['patch', 'update'] },
  { apiGroups: [GROUP], resources: ['events'], verbs: ['create', 'patch', 'update'] },
];

export const LEADER_ELECTION_RULES: PolicyRule[] = [{ apiGroups: [GROUP], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] }];

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
    { kind: 'ClusterRoleBinding', body: { metadata: meta('cluster-admin'), subjects: [{ kind: 'Group', name: SYSTEM_MASTERS }], roleRef: roleRef('ClusterRole', 'cluster-admin') } },
    { kind: 'ClusterRole', body: { metadata: meta(cm), rules: CONTROLLER_MANAGER_RULES } },
    { kind: 'ClusterRoleBinding', body: { metadata: meta(cm), subjects: [{ kind: 'User', name: cm }], roleRef: roleRef('ClusterRole', cm) } },
    { kind: 'Role', namespace: LEADER_ELECTION_NAMESPACE, body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), rules: LEADER_ELECTION_RULES } },
    {
      kind: 'RoleBinding',
      namespace: LEADER_ELECTION_NAMESPACE,
      body: { metadata: meta(election, LEADER_ELECTION_NAMESPACE), subjects: [{ kind: 'User', name: cm }], roleRef: roleRef('Role', election) },
    },
  ];
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
