/**
 * The Node mode (Kubernetes' node authorizer, simplified): a node agent — user
 * system:node:<name> in group system:nodes — may do what running its own VMs takes, and no more:
 *  - get any VirtualMachine; list and watch them only with fieldSelector spec.nodeName=<name>;
 *  - update and patch (and their /status) only VirtualMachines bound to it (spec.nodeName), and of
 *    the object itself only its own finalizer and the unbinding of an eviction (node-restriction.ts);
 *  - get, create, update and patch its own Node (and its status); get, list and watch every
 *    Node (the other nodes' overlay addresses: where its VMs' Networks reach them);
 *  - get, create, update and patch its own Lease in namespace shoal-node-lease;
 *  - create and patch Events;
 *  - get, list and watch StoragePools, Volumes, Migrations, Networks and Images (the disks,
 *    moves, networks and images of its VMs);
 *  - update and patch (and their /status) the Volumes it holds (status.node) or that a VM bound
 *    to it attaches: it makes, reports and removes their files;
 *  - patch the status of Migrations whose source or target it is;
 *  - get, list and watch Backups, BackupLocations and DiskBackups (a restored Volume reads the
 *    chain of files under it, whichever node made them); update and patch (and their /status)
 *    the DiskBackups assigned to it (spec.node): it copies their disks and removes their data.
 * Anything else gets no opinion, so a later mode (RBAC) may still allow it; by default nothing does.
 * Users who are not nodes get no opinion.
 */
import { NODE_LEASE_NAMESPACE, vmUsesVolume, type DiskBackup, type Migration, type VirtualMachine, type Volume } from '@shoal/api';
import type { Authorizer, Decision } from './authorizer.js';
import type { RequestAttributes } from './request-attributes.js';
import { nodeVmPatchRefusal } from './node-restriction.js';
import { nodeNameOf, type UserInfo } from './user.js';

const GROUP = 'shoal.dev';
const READ = new Set(['get']);
const LIST_READ = new Set(['get', 'list', 'watch']);
const OWN_OBJECT_VERBS = new Set(['get', 'create', 'update', 'patch']);

export interface NodeAuthorizerSource {
  /** The VirtualMachine as the server holds it now, if it exists. */
  virtualMachine(namespace: string, name: string): VirtualMachine | undefined;
  /** Every VirtualMachine the server holds now (to find the ones attaching a Volume). */
  virtualMachines(): Iterable<VirtualMachine>;
  volume(namespace: string, name: string): Volume | undefined;
  migration(namespace: string, name: string): Migration | undefined;
  diskBackup(namespace: string, name: string): DiskBackup | undefined;
  /** See RbacSource.catchUp. */
  catchUp(): Promise<boolean>;
}

const allow: Decision = { decision: 'allow' };
const noOpinion = (reason: string): Decision => ({ decision: 'no-opinion', reason });

/** spec.nodeName=<name> (or ==) among the requirements of a field selector. */
function selectsNode(fieldSelector: string, node: string): boolean {
  return fieldSelector.split(',').some((r) => {
    const m = /^spec\.nodeName(==?)(.*)$/.exec(r.trim());
    return !!m && m[2] === node;
  });
}

function nameInBody(body: unknown): string | undefined {
  const name = (body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  return typeof name === 'string' ? name : undefined;
}

export class NodeAuthorizer implements Authorizer {
  readonly name = 'Node';

  constructor(private readonly source: NodeAuthorizerSource) {}

  /** The Volume is held by the node, or attached by a VM bound to it. */
  private volumeIsNodes(node: string, namespace: string, name: string): boolean {
    if (this.source.volume(namespace, name)?.status?.node === node) return true;
    for (const vm of this.source.virtualMachines()) if (vm.metadata.namespace === namespace && vm.spec.nodeName === node && vmUsesVolume(vm, name)) return true;
    return false;
  }

  async authorize(user: UserInfo, a: RequestAttributes, body?: unknown): Promise<Decision> {
    const node = nodeNameOf(user);
    if (node === undefined || !a.resourceRequest || a.apiGroup !== GROUP) return { decision: 'no-opinion' };
    // The object a create is about is named in its body, not in the path.
    const name = a.verb === 'create' && !a.subresource ? (nameInBody(body) ?? '') : a.name;
    switch (a.resource) {
      case 'virtualmachines': {
        if (a.verb === 'list' || a.verb === 'watch') {
          if (a.subresource === '' && selectsNode(a.fieldSelector, node)) return allow;
          return noOpinion(`node "${node}" may list and watch only the virtualmachines bound to it (fieldSelector spec.nodeName=${node})`);
        }
        if (READ.has(a.verb) && (a.subresource === '' || a.subresource === 'status')) return allow;
        if ((a.verb === 'update' || a.verb === 'patch') && (a.subresource === '' || a.subresource === 'status')) {
          const boundHere = () => this.source.virtualMachine(a.namespace, a.name)?.spec.nodeName === node;
          if (!(boundHere() || ((await this.source.catchUp()) && boundHere()))) return noOpinion(`node "${node}" may change only virtualmachines bound to it`);
          if (a.subresource === 'status') return allow;
          // The object itself: only what running the VM takes (node-restriction.ts).
          const refusal =
            a.verb === 'update' ? 'a node may not replace a virtualmachine' : nodeVmPatchRefusal(body, this.source.virtualMachine(a.namespace, a.name));
          return refusal ? noOpinion(`node "${node}": ${refusal}`) : allow;
        }
        return noOpinion(`node "${node}" may not ${a.verb} virtualmachines${a.subresource ? `/${a.subresource}` : ''}`);
      }
      case 'nodes':
        if (OWN_OBJECT_VERBS.has(a.verb) && (a.subresource === '' || a.subresource === 'status') && name === node) return allow;
        if (LIST_READ.has(a.verb) && a.subresource === '') return allow;
        return noOpinion(`node "${node}" may read Nodes, and create, update and patch only its own`);
      case 'leases':
        if (OWN_OBJECT_VERBS.has(a.verb) && a.subresource === '' && a.namespace === NODE_LEASE_NAMESPACE && name === node) return allow;
        return noOpinion(`node "${node}" may get, create, update and patch only its own Lease in namespace ${NODE_LEASE_NAMESPACE}`);
      case 'events':
        if ((a.verb === 'create' || a.verb === 'patch') && a.subresource === '') return allow;
        return noOpinion(`node "${node}" may only create and patch events`);
      case 'storagepools':
      case 'networks':
      case 'images':
      case 'backups':
      case 'backuplocations':
        if (LIST_READ.has(a.verb) && a.subresource === '') return allow;
        return noOpinion(`node "${node}" may only read ${a.resource}`);
      case 'volumes': {
        if (LIST_READ.has(a.verb) && (a.subresource === '' || a.subresource === 'status')) return allow;
        if ((a.verb === 'update' || a.verb === 'patch') && (a.subresource === '' || a.subresource === 'status')) {
          const mine = () => this.volumeIsNodes(node, a.namespace, a.name);
          if (mine() || ((await this.source.catchUp()) && mine())) return allow;
          return noOpinion(`node "${node}" may change only the volumes it holds or that a virtualmachine bound to it attaches`);
        }
        return noOpinion(`node "${node}" may not ${a.verb} volumes${a.subresource ? `/${a.subresource}` : ''}`);
      }
      case 'migrations': {
        if (LIST_READ.has(a.verb) && (a.subresource === '' || a.subresource === 'status')) return allow;
        if (a.verb === 'patch' && a.subresource === 'status') {
          const takesPart = () => {
            const m = this.source.migration(a.namespace, a.name);
            return m?.status?.sourceNode === node || m?.status?.targetNode === node;
          };
          if (takesPart() || ((await this.source.catchUp()) && takesPart())) return allow;
          return noOpinion(`node "${node}" may report only on migrations it is the source or target of`);
        }
        return noOpinion(`node "${node}" may not ${a.verb} migrations${a.subresource ? `/${a.subresource}` : ''}`);
      }
      case 'diskbackups': {
        if (LIST_READ.has(a.verb) && (a.subresource === '' || a.subresource === 'status')) return allow;
        if ((a.verb === 'update' || a.verb === 'patch') && (a.subresource === '' || a.subresource === 'status')) {
          const assigned = () => this.source.diskBackup(a.namespace, a.name)?.spec.node === node;
          if (assigned() || ((await this.source.catchUp()) && assigned())) return allow;
          return noOpinion(`node "${node}" may change only the diskbackups assigned to it`);
        }
        return noOpinion(`node "${node}" may not ${a.verb} diskbackups${a.subresource ? `/${a.subresource}` : ''}`);
      }
      default:
        return noOpinion(`node "${node}" has no access to ${a.resource}`);
    }
  }
}
