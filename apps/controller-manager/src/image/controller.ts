/**
 * The image controller's wiring (STYLE.md 4): each Image's status — where it is cached, its
 * digest and size — and its protection while VMs or Volumes use it (reconcile.ts).
 *
 *   Image added/updated                      → that image
 *   Node's status.images changed             → every image (few; each looks at every node)
 *   VM added/deleted or its spec.image moved → the images it named before and after
 *   Volume made from an image added/deleted  → that image
 */
import { volumeImageName, type Image, type Node, type VirtualMachine, type Volume } from '@shoal/api';
import { Controller, enqueueObject, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, type ImageContext } from './reconcile.js';

export const IMAGE_NAME = 'image';

export function imageController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: IMAGE_NAME });
  const images = env.informers.informer<Image>('image');
  const nodes = env.informers.informer<Node>('node');
  const vms = env.informers.informer<VirtualMachine>('vm');
  const volumes = env.informers.informer<Volume>('volume');
  const ctx: ImageContext = { client: env.client, images, nodes, vms, volumes, log };
  const controller = new Controller({ name: IMAGE_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onNode: EventHandler<Node> = (change) => {
    if (change.type === 'update' && JSON.stringify(change.old.status?.images) === JSON.stringify(change.object.status?.images)) return [];
    return images.list().map((i) => i.metadata.name!);
  };
  const onVm: EventHandler<VirtualMachine> = (change) => {
    const before = change.type === 'update' ? change.old.spec.image : undefined;
    if (change.type === 'update' && before === change.object.spec.image && !change.object.metadata.deletionTimestamp) return [];
    return [...new Set([before, change.object.spec.image].filter((n): n is string => !!n && !!images.get(n)))];
  };
  const onVolume: EventHandler<Volume> = (change) => {
    const name = volumeImageName(change.object);
    return name && change.type !== 'update' ? [name] : [];
  };
  return controller.watch(images, enqueueObject()).watch(nodes, onNode).watch(vms, onVm).watch(volumes, onVolume);
}
