/**
 * The agent's network controller, wired: one key (the node), converged by NodeNetworks from the
 * informers — the VMs bound here, every Network, every Node (the peers' overlay addresses) — and
 * the runtime's instances. A change of what those say of NICs enqueues it, and it runs again every
 * RESYNC_MS for what no event announces (a guest that exited after its VM was deleted).
 *
 * Before a guest is launched, attach() converges with that VM included (a migration's target is
 * not bound here yet) and pins it until its instance exists, so no converge in between takes
 * its taps away.
 */
import { objectKey, type Network, type Node, type VirtualMachine } from '@shoal/api';
import type { Informer } from '@shoal/client';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RuntimeDriver } from '../runtime/driver.js';
import { networkKey } from './names.js';
import { attachmentOf, type Attachment, type NodeNetworks, type NodeNetworkState } from './node-networks.js';

export const NODE_NETWORK_CONTROLLER_NAME = 'agent-networks';
/** Why a VM waits when this node could not make its bridge, tap, DHCP or rules. */
export const NETWORK_SETUP_FAILED = 'NetworkSetupFailed';
const KEY = 'node';
const RESYNC_MS = 30_000;
/** How long a VM attached for a launch is kept without an instance (the launch failed, or never came). */
const PIN_MS = 120_000;

export interface NodeNetworkControllerOptions {
  nodeName: string;
  networks: NodeNetworks;
  /** The VMs bound to this node. */
  vms: Informer<VirtualMachine>;
  networkInformer: Informer<Network>;
  nodes: Informer<Node>;
  driver: Pick<RuntimeDriver, 'list'>;
  log: Logger;
  registry?: Registry;
}

export interface NodeNetworkController {
  controller: Controller;
  /** Makes the VM's NICs ready here (taps on their Networks): the taps to open, or why not yet. */
  attach(vm: VirtualMachine): Promise<Attachment>;
}

export function nodeNetworkController(o: NodeNetworkControllerOptions): NodeNetworkController {
  /**
   * VMs whose NICs stay though the informer may not show them bound here: one being launched
   * (until PIN_MS passes without its guest), and every one whose guest runs here (kept while it
   * runs: a deleted VM's guest still stopping keeps its taps).
   */
  const held = new Map<string, { vm: VirtualMachine; until: number }>();

  const state = (): NodeNetworkState => {
    const running = new Set(o.driver.list().map((i) => i.uid));
    const vms = new Map(o.vms.list().map((vm) => [vm.metadata.uid!, vm]));
    const now = Date.now();
    for (const [uid, h] of held) {
      if (!running.has(uid) && now > h.until) held.delete(uid);
      else if (!vms.has(uid)) vms.set(uid, h.vm);
    }
    for (const [uid, vm] of vms) if (running.has(uid)) held.set(uid, { vm, until: 0 });
    return {
      vms: [...vms.values()],
      networks: o.networkInformer.list(),
      peers: o.nodes
        .list()
        .filter((n) => n.metadata.name !== o.nodeName)
        .flatMap((n) => (n.status?.overlayAddress ? [n.status.overlayAddress] : [])),
    };
  };

  const controller = new Controller({
    name: NODE_NETWORK_CONTROLLER_NAME,
    workers: 1,
    registry: o.registry,
    log: o.log,
    reconcile: async () => {
      await o.networks.sync(state());
      return { requeueAfterMs: RESYNC_MS };
    },
  });
  const always: EventHandler<Network> = () => [KEY];
  // Only what changes a VM's NICs here: its status writes (several per boot) change nothing of them.
  const nicsOf = (vm: VirtualMachine) => JSON.stringify([vm.spec.nodeName, vm.spec.networks, vm.spec.network, vm.spec.ports, vm.status?.interfaces]);
  const onVm: EventHandler<VirtualMachine> = (change) => (change.type !== 'update' || nicsOf(change.object) !== nicsOf(change.old) ? [KEY] : []);
  const onNode: EventHandler<Node> = (change) =>
    change.type !== 'update' || change.object.status?.overlayAddress !== change.old.status?.overlayAddress ? [KEY] : [];
  controller.watch(o.vms, onVm).watch(o.networkInformer, always).watch(o.nodes, onNode);

  return {
    controller,
    async attach(vm) {
      const networks = new Map(o.networkInformer.list().map((n) => [networkKey(n.metadata.namespace!, n.metadata.name!), n]));
      const attachment = attachmentOf(vm, networks);
      if (!attachment.ok || !attachment.nics.length) return attachment;
      held.set(vm.metadata.uid!, { vm, until: Date.now() + PIN_MS });
      o.log.debug({ vm: objectKey(vm.metadata), nics: attachment.nics }, 'attaching NICs');
      try {
        await o.networks.sync(state());
      } catch (err) {
        // Said on the VM (it waits, and is looked at again), not only in this log.
        return { ok: false, reason: NETWORK_SETUP_FAILED, message: `setting up its NICs on node ${o.nodeName}: ${(err as Error).message}` };
      }
      return attachment;
    },
  };
}
