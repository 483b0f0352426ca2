/**
 * reconcile(ctx, imageName) for the image controller (STYLE.md 1–3):
 *
 *   status                      → digest (over its files' digests), size and the nodes that
 *                                 hold every file verified (their status.images, which each
 *                                 node's agent writes), the Cached condition; written when it
 *                                 differs from what is there
 *   being deleted, still used   → kept (its protection finalizer stays), the InUse condition
 *                                 naming the VMs and Volumes that use it
 *   being deleted, unused       → the protection finalizer off: the delete completes
 *
 * What uses an Image: a VirtualMachine whose spec.image names it, a Volume made from its disk.
 * Before the finalizer goes, both are listed afresh from the apiserver (the caches may not show
 * a VM created a moment ago): an image is never pulled from under a VM.
 */
import {
  canonicalJson,
  findCondition,
  IMAGE_PROTECTION_FINALIZER,
  imageDigest,
  imageFiles,
  objectKey,
  setCondition,
  timestamp,
  vmBootsImage,
  volumeImageName,
  type Condition,
  type Image,
  type ImageStatus,
  type Node,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';

export const CACHED_CONDITION = 'Cached';
export const IN_USE_CONDITION = 'InUse';

export interface ImageContext {
  client: ShoalClient;
  images: Pick<Informer<Image>, 'get'>;
  nodes: Pick<Informer<Node>, 'list'>;
  vms: Pick<Informer<VirtualMachine>, 'list'>;
  volumes: Pick<Informer<Volume>, 'list'>;
  log: Logger;
  now?: () => number;
}

export async function reconcile(ctx: ImageContext, name: string): Promise<Result> {
  const image = ctx.images.get(name);
  if (!image) return {};
  const deleting = !!image.metadata.deletionTimestamp;
  const users = usersOf(image, ctx.vms.list(), ctx.volumes.list());
  if (deleting && users.length === 0 && image.metadata.finalizers?.includes(IMAGE_PROTECTION_FINALIZER)) {
    // The caches said nothing uses it; the apiserver must say so too before it may go.
    const live = usersOf(image, (await ctx.client.list<VirtualMachine>('vm')).items, (await ctx.client.list<Volume>('volume')).items);
    if (live.length === 0) {
      const rest = image.metadata.finalizers.filter((f) => f !== IMAGE_PROTECTION_FINALIZER);
      await ctx.client.patch(
        'image',
        name,
        { metadata: { resourceVersion: image.metadata.resourceVersion, finalizers: rest.length ? rest : null } },
        { type: 'merge' },
      );
      ctx.log.info({ image: name }, 'image deleted: nothing uses it any more');
      return {};
    }
    users.push(...live);
  }
  const next = statusOf(image, ctx.nodes.list(), deleting ? users : [], timestamp(ctx.now?.() ?? Date.now()));
  if (!sameStatus(image.status, next))
    await ctx.client.patch('image', name, { metadata: { resourceVersion: image.metadata.resourceVersion }, status: next }, { type: 'merge', status: true });
  return {};
}

/** The VMs (namespace/name) and Volumes (volume namespace/name) that use the image. */
export function usersOf(image: Image, vms: readonly VirtualMachine[], volumes: readonly Volume[]): string[] {
  const name = image.metadata.name!;
  return [
    ...vms.filter((vm) => vmBootsImage(vm, name)).map((vm) => `VirtualMachine ${objectKey(vm.metadata)}`),
    ...volumes.filter((v) => volumeImageName(v) === name).map((v) => `Volume ${objectKey(v.metadata)}`),
  ].sort();
}

export function statusOf(image: Image, nodes: readonly Node[], users: readonly string[], now: string): ImageStatus {
  const files = imageFiles(image);
  const holders = nodes
    .filter((n) => {
      const held = new Set((n.status?.images ?? []).map((i) => i.sha256));
      return files.every((f) => held.has(f.sha256));
    })
    .map((n) => n.metadata.name!)
    .sort();
  const sizes = new Map<string, number>();
  for (const n of nodes) for (const i of n.status?.images ?? []) sizes.set(i.sha256, i.sizeBytes);
  const known = files.every((f) => sizes.has(f.sha256));
  let conditions: Condition[] = setCondition(
    image.status?.conditions,
    holders.length
      ? { type: CACHED_CONDITION, status: 'True', reason: 'Cached', message: `verified and cached on ${holders.length} node(s): ${holders.join(', ')}` }
      : { type: CACHED_CONDITION, status: 'False', reason: 'NotCached', message: 'no node holds it yet: each fetches it when a VM of it first starts there' },
    now,
  );
  if (users.length)
    conditions = setCondition(
      conditions,
      {
        type: IN_USE_CONDITION,
        status: 'True',
        reason: 'InUse',
        message: `deletion waits until nothing uses it: ${users.slice(0, 10).join(', ')}${users.length > 10 ? ', …' : ''}`,
      },
      now,
    );
  else conditions = conditions.filter((c) => c.type !== IN_USE_CONDITION);
  return {
    digest: imageDigest(image),
    ...(known ? { size: files.reduce((sum, f) => sum + sizes.get(f.sha256)!, 0) } : {}),
    nodes: holders,
    conditions,
    observedGeneration: image.metadata.generation,
  };
}

/** Equal but for the conditions' transition times (setCondition keeps them when nothing else changed). */
function sameStatus(a: ImageStatus | undefined, b: ImageStatus): boolean {
  if (!a) return false;
  const strip = (s: ImageStatus) => ({ ...s, conditions: (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: '' })) });
  return canonicalJson(strip(a)) === canonicalJson(strip(b)) && findCondition(a.conditions, CACHED_CONDITION) !== undefined;
}
