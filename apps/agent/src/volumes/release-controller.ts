/**
 * The agent's volume controller, wired: every Volume change → that Volume; release.ts removes
 * the files of deleted Volumes this node made. One worker: deletions are rare and quick.
 */
import type { Volume } from '@shoal/api';
import type { Informer } from '@shoal/client';
import { Controller, enqueueObject } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { releaseVolume } from './release.js';
import type { VolumeAccess } from './volume-access.js';

export const VOLUME_RELEASE_CONTROLLER_NAME = 'agent-volumes';

export function volumeReleaseController(o: { access: VolumeAccess; informer: Informer<Volume>; log: Logger; registry?: Registry }): Controller {
  const controller = new Controller({
    name: VOLUME_RELEASE_CONTROLLER_NAME,
    workers: 1,
    registry: o.registry,
    log: o.log,
    reconcile: (key) => releaseVolume(o.access, key, o.log),
  });
  return controller.watch(o.informer, enqueueObject());
}
