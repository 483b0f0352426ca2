/**
 * The agent's migration controller, wired (STYLE.md 4): Migrations this node is the source or
 * target of, reconciled by reconcile.ts.
 *
 *   a Migration added/updated/deleted → that Migration
 *   a VM bound here changed           → the Migrations of that VM (it moved here: resume)
 *   a transfer ended                  → its Migration (source.ts)
 */
import { objectKey, type Migration, type VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import { Controller, enqueueMapped, enqueueObject, type EventRecorder } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { FenceGate } from '../vm/context.js';
import type { VolumeAccess } from '../volumes/volume-access.js';
import type { Attachment } from '../network/node-networks.js';
import type { MigrationContext } from './context.js';
import type { MigrationTls } from './migration-tls.js';
import { reconcile } from './reconcile.js';
import type { ResolvedImage } from '../images/boot-image.js';

export const MIGRATION_CONTROLLER_NAME = 'agent-migrations';

export interface MigrationControllerOptions {
  nodeName: string;
  client: ShoalClient;
  migrations: Informer<Migration>;
  vms: Informer<VirtualMachine>;
  driver: RuntimeDriver;
  fence: FenceGate;
  volumes?: VolumeAccess;
  /** Makes a VM's NICs ready here (a target's guest opens the same Networks); absent when the agent attaches no VM to Networks. */
  attachNetworks?: (vm: VirtualMachine) => Promise<Attachment>;
  /** What a VM's spec.image boots here; absent: built-in images only. */
  bootImage?: (imageName: string) => ResolvedImage;
  tls?: MigrationTls;
  listenAddress: string;
  stopGraceMs: number;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  registry?: Registry;
  /** Re-queues a VM in the VM controller (built after this one). */
  requeueVm(key: string): void;
}

export function migrationController(o: MigrationControllerOptions): { controller: Controller; context: MigrationContext } {
  let controller: Controller | undefined;
  const context: MigrationContext = {
    nodeName: o.nodeName,
    client: o.client,
    migrations: o.migrations,
    vms: o.vms,
    driver: o.driver,
    fence: o.fence,
    volumes: o.volumes,
    attachNetworks: o.attachNetworks,
    bootImage: o.bootImage,
    tls: o.tls,
    listenAddress: o.listenAddress,
    recorder: o.recorder,
    log: o.log,
    local: new Map(),
    stopGraceMs: o.stopGraceMs,
    requeue: (key) => controller?.queue.add(key),
    requeueVm: o.requeueVm,
  };
  controller = new Controller({
    name: MIGRATION_CONTROLLER_NAME,
    workers: 4,
    registry: o.registry,
    log: o.log,
    reconcile: (key) => reconcile(context, key),
  });
  const ofVm = (vm: VirtualMachine) =>
    o.migrations
      .list()
      .filter((m) => m.status?.vmUID === vm.metadata.uid)
      .map((m) => objectKey(m.metadata));
  controller.watch(o.migrations, enqueueObject()).watch(o.vms, enqueueMapped(ofVm));
  return { controller, context };
}
