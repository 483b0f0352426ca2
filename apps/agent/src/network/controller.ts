/**
 * The agent's network controller, wired: one key (the node), converged by NodeNetworks from the
 * informers — the VMs bound here, every Network, every Node (the peers' overlay addresses) — and
 * the runtime's instances. Any change of those enqueues it, and it runs again every
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
  /** VMs seen last with a guest here: a deleted VM's NICs stay until its guest is gone. */
  const remembered = new Map<string, VirtualMachine>();
  const pinned = new Map<string, { vm: VirtualMachine; until: number }>();

  const state = (): NodeNetworkState => {
    const running = new Set(o.driver.list().map((i) => i.uid));
    const vms = new Map(o.vms.list().map((vm) => [vm.metadata.uid!, vm]));
    for (const [uid, pin] of pinned) {
      if (running.has(uid) || Date.now() > pin.until) pinned.delete(uid);
      if (!vms.has(uid) && (running.has(uid) || pinned.has(uid))) vms.set(uid, pin.vm);
    }
    for (const uid of running) if (!vms.has(uid) && remembered.has(uid)) vms.set(uid, remembered.get(uid)!);
    remembered.clear();
    for (const [uid, vm] of vms) if (running.has(uid)) remembered.set(uid, vm);
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
  const always: EventHandler<VirtualMachine | Network | Node> = () => [KEY];
  const onNode: EventHandler<Node> = (change) =>
    change.type !== 'update' || change.object.status?.overlayAddress !== change.old.status?.overlayAddress ? [KEY] : [];
  controller.watch(o.vms, always).watch(o.networkInformer, always).watch(o.nodes, onNode);

  return {
    controller,
    async attach(vm) {
      const networks = new Map(o.networkInformer.list().map((n) => [networkKey(n.metadata.namespace!, n.metadata.name!), n]));
      const attachment = attachmentOf(vm, networks);
      if (!attachment.ok || !attachment.nics.length) return attachment;
      pinned.set(vm.metadata.uid!, { vm, until: Date.now() + PIN_MS });
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
