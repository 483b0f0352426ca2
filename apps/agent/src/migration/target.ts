/**
 * The target node's part of a live migration:
 *
 *   PreparingTarget        → the guest's QEMU started here waiting (-incoming defer -S), with a
 *                            blank file for each local disk the source will mirror; TLS that
 *                            lets in only the source node's certificate; status.target says
 *                            where to send (migrationUri, nbd) and readyAt
 *   the VM moved here      → once QEMU has all of the guest: NBD stopped, `cont`, the mirrored
 *                            Volumes now held here, status.target.resumedAt
 *
 * Only the move of the VM (the migration controller's one write) lets the guest run here: until
 * then the source holds it, and a Migration that ends without the move leaves nothing here
 * (reconcile.ts kills the waiting QEMU).
 */
import type { TapNic } from '../runtime/qemu/command-line.js';
import { freePort, objectKey, poolNameFor, vmDisks, volumeImageName, type Migration, type VirtualMachine, type VolumeSpec } from '@shoal/api';
import { IMAGE_PULLING } from '../images/boot-image.js';
import type { Result } from '@shoal/controller-runtime';
import { LaunchRefusedError } from '../runtime/driver.js';
import { MigrationError, prepareIncoming, QmpSession, resumeTarget } from '../runtime/qemu/migration/index.js';
import { launchSpec } from '../vm/reconcile.js';
import { makeVolumeFile, volumeFilePath } from '../volumes/volume-files.js';
import { poolOf, volumeOf } from '../volumes/volume-access.js';
import type { LaunchDisk } from '../volumes/attach.js';
import type { LocalMigration, MigrationContext } from './context.js';
import { nodeCertificateDn } from './migration-tls.js';
import { attemptMode, failSide, failure, reportTarget, startTarget } from './report.js';

/** How soon a QEMU still starting is looked at again: its monitor is up within a few hundred ms, and the transfer waits for it. */
const STARTING_RETRY_MS = 50;
/** How often a cold-migrated guest is looked at until it has booted here. */
const BOOT_POLL_MS = 250;
/** How often a target waiting for an image its disks are made from looks again. */
const IMAGE_WAIT_MS = 1_000;
/** How long the target waits for the last bytes after the source said it completed. */
const RESUME_TIMEOUT_MS = 10_000;

interface TargetDisk extends LaunchDisk {
  /** Local to the source: copied here by its mirror. */
  mirrored?: { namespace: string; name: string };
}

/** The VM's NICs made ready here (the same addresses and MACs as at its source), or why they cannot be. */
async function targetNics(ctx: MigrationContext, vm: VirtualMachine): Promise<TapNic[] | string> {
  if (!ctx.attachNetworks) return vm.spec.networks?.length ? `node ${ctx.nodeName}'s agent attaches no VM to Networks` : [];
  const attachment = await ctx.attachNetworks(vm);
  return attachment.ok ? attachment.nics : `${attachment.reason}: ${attachment.message}`;
}

export async function prepareTarget(ctx: MigrationContext, m: Migration): Promise<Result> {
  const st = m.status!;
  const key = objectKey(m.metadata);
  const fail = failSide(ctx, m, 'target');
  if (!ctx.driver.qmpSocket || !ctx.driver.markResumed) return fail('MigrationUnsupported', `node ${ctx.nodeName}'s runtime cannot receive a live migration`);
  if (!ctx.tls)
    return fail(
      'MigrationCredentialsMissing',
      `node ${ctx.nodeName}'s agent has no migration certificate (--migration-cert-file): it takes part in no migration`,
    );
  const vm = await ctx.client.get<VirtualMachine>('vm', m.spec.vmName, { namespace: m.metadata.namespace });
  if (!st.vmUID || !st.sourceNode || vm.metadata.uid !== st.vmUID)
    return fail('VMChanged', `virtualmachine ${m.spec.vmName} is not the one being migrated (uid ${st.vmUID})`);

  let local = ctx.local.get(key);
  let instance = ctx.driver.state(st.vmUID);
  if (!instance) {
    const disks = await targetDisks(ctx, vm);
    if (typeof disks === 'string') return fail('TargetFailed', disks);
    // An image its disks are made from, still being fetched here: the target gets ready once it is.
    if (!Array.isArray(disks)) return { requeueAfterMs: IMAGE_WAIT_MS };
    const nics = await targetNics(ctx, vm);
    if (typeof nics === 'string') return fail('TargetFailed', nics);
    // The same kernel and initramfs as the source's, from this node's cache (and the same config drive).
    const image = ctx.bootImage?.(vm.spec.image) ?? { ok: true as const };
    if (!image.ok) return image.fetching ? { requeueAfterMs: IMAGE_WAIT_MS } : fail('TargetFailed', image.message);
    if (!ctx.fence.mayAct()) return { requeueAfterMs: STARTING_RETRY_MS };
    try {
      await ctx.driver.start(
        { ...launchSpec(vm, disks, nics, image.boot), incoming: st.mode === 'Cold' ? {} : { bootedAt: vm.status?.bootedAt, ip: vm.status?.ip } },
        () => ctx.fence.mayAct(),
      );
    } catch (err) {
      if (err instanceof LaunchRefusedError) return { requeueAfterMs: STARTING_RETRY_MS };
      throw err;
    }
    ctx.local.set(key, { role: 'target', mode: attemptMode(m), vmUid: st.vmUID });
    return { requeueAfterMs: STARTING_RETRY_MS };
  }
  if (!instance.incoming) return fail('TargetFailed', `node ${ctx.nodeName} already runs a guest of virtualmachine ${m.spec.vmName}`);
  if (instance.phase === 'exited') return fail('TargetFailed', `the waiting QEMU on node ${ctx.nodeName} exited (${instance.exit?.reason ?? 'unknown'})`);
  local ??= { role: 'target', mode: attemptMode(m), vmUid: st.vmUID };
  ctx.local.set(key, local);
  // Set up and said already, by this process: a reconcile that an earlier event queued meets a cache without readyAt yet.
  if (local.targetReported) return {};
  if (!local.session) {
    try {
      local.session = await QmpSession.connect(ctx.driver.qmpSocket(st.vmUID)!, { timeoutMs: 1_000 });
    } catch {
      return { requeueAfterMs: STARTING_RETRY_MS }; // QEMU is not listening on its monitor yet
    }
  }
  try {
    // QEMU is set up once; a report that failed is written again from what it answered.
    if (!local.endpoint) {
      const disks = await targetDisks(ctx, vm);
      if (typeof disks === 'string') return fail('TargetFailed', disks);
      if (!Array.isArray(disks)) return { requeueAfterMs: IMAGE_WAIT_MS };
      const mirrored = disks.flatMap((d, i) => (d.mirrored ? [{ device: `disk${i}` }] : []));
      local.endpoint = await prepareIncoming(local.session, {
        listenAddress: ctx.listenAddress,
        port: await freePort(ctx.listenAddress),
        nbdPort: mirrored.length ? await freePort(ctx.listenAddress) : undefined,
        pickPort: () => freePort(ctx.listenAddress),
        tls: { dir: ctx.tls.serverDir, authorizedClientDn: nodeCertificateDn(st.sourceNode) },
        disks: mirrored,
      });
    }
    const endpoint = local.endpoint;
    await startTarget(ctx, m, { migrationUri: endpoint.migrationUri, ...(endpoint.nbd ? { nbd: endpoint.nbd } : {}), readyAt: new Date().toISOString() });
    local.targetReported = 'ready';
    ctx.log.info({ migration: key, uri: endpoint.migrationUri }, 'migration target ready');
    return {};
  } catch (err) {
    if (err instanceof MigrationError) return fail(err.reason, err.message);
    throw err;
  }
}

/**
 * The VM's disks here: a shared Volume at its path (the same file the source uses), a local one
 * as a blank file of the same size for the source's mirror; a string says why not.
 */
async function targetDisks(ctx: MigrationContext, vm: VirtualMachine): Promise<TargetDisk[] | string | { waitingFor: string }> {
  const disks = vmDisks(vm);
  if (!disks.length) return [];
  const access = ctx.volumes;
  if (!access) return `node ${ctx.nodeName} has no volume access`;
  const ns = vm.metadata.namespace!;
  const out: TargetDisk[] = [];
  for (const disk of disks) {
    const volume = volumeOf(access, ns, disk.volumeName);
    const pool = volume && poolOf(access, poolNameFor(volume.spec, access.pools.list()));
    if (!volume?.status?.path || !pool) return `volume ${disk.volumeName} is not made, or its pool is gone`;
    const format = volume.status.format ?? 'qcow2';
    if (pool.spec.type === 'shared') {
      out.push({ name: disk.name, path: volume.status.path, format });
      continue;
    }
    const path = volumeFilePath(access.dataDir, pool, ns, disk.volumeName);
    if (volume.spec.source?.volume && !volume.spec.sizeGiB)
      return `volume ${disk.volumeName} is a clone without sizeGiB: its size cannot be known here to copy it`;
    // Made as the source's was, minus a clone's content: the same virtual size; the mirror writes every block.
    const spec: VolumeSpec = volume.spec.source?.volume ? { ...volume.spec, source: { blank: {} } } : volume.spec;
    // An overlay on an Image's disk: on this node's copy of it, fetched (and verified) first.
    const imageName = volumeImageName(volume);
    let base: { path: string; format: 'qcow2' | 'raw' } | undefined;
    if (imageName) {
      const image = access.imageDisk?.(imageName);
      if (!image) return `volume ${disk.volumeName} is made from image ${imageName}, and node ${ctx.nodeName}'s agent keeps no images`;
      if (!image.ok) return image.reason === IMAGE_PULLING ? { waitingFor: image.message } : `volume ${disk.volumeName}: ${image.message}`;
      base = image;
    }
    try {
      await makeVolumeFile({ path, spec, base });
    } catch (err) {
      return `making a copy of volume ${disk.volumeName} on node ${ctx.nodeName}: ${(err as Error).message}`;
    }
    out.push({ name: disk.name, path, format: 'qcow2', mirrored: { namespace: ns, name: disk.volumeName } });
  }
  return out;
}

/**
 * The guest runs here once the VM has moved here: QEMU checked to hold all of it, NBD stopped,
 * `cont`; the mirrored Volumes are this node's from now on.
 */
export async function resumeHere(ctx: MigrationContext, m: Migration, vm: VirtualMachine, local: LocalMigration): Promise<Result> {
  const uid = m.status!.vmUID!;
  const key = objectKey(m.metadata);
  if (local.targetReported === 'resumed') return {};
  ctx.local.set(key, local);
  if (!ctx.fence.mayAct()) return { requeueAfterMs: STARTING_RETRY_MS };
  local.session ??= await QmpSession.connect(ctx.driver.qmpSocket!(uid)!, { timeoutMs: 2_000 });
  try {
    const { resumedAt } = await resumeTarget(local.session, { timeoutMs: RESUME_TIMEOUT_MS });
    await ctx.driver.markResumed!(uid);
    await takeMirroredVolumes(ctx, vm);
    await reportTarget(ctx, m, { resumedAt: new Date(resumedAt).toISOString() });
    local.targetReported = 'resumed';
    ctx.log.info({ migration: key, vm: `${m.metadata.namespace}/${m.spec.vmName}` }, 'migrated guest resumed here');
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    // The VM is bound here now: the guest cannot go back. Said, and left for the VM's own
    // reconcile (its instance is no longer protected once the Migration ends).
    ctx.log.warn({ migration: key, reason: err.reason }, err.message);
    await reportTarget(ctx, m, failure(err.reason, err.message));
  } finally {
    local.session?.close();
    local.session = undefined;
  }
  return {};
}

/** The local Volumes copied here are held here from now on (their status names this node and the copy). */
async function takeMirroredVolumes(ctx: MigrationContext, vm: VirtualMachine): Promise<void> {
  const disks = await targetDisks(ctx, vm);
  for (const d of Array.isArray(disks) ? disks : [])
    if (d.mirrored)
      await ctx.client.patch(
        'volume',
        d.mirrored.name,
        { status: { node: ctx.nodeName, path: d.path } },
        { namespace: d.mirrored.namespace, type: 'merge', status: true },
      );
}

/**
 * A cold migration, once the VM has moved here: its disks are here (the source copied them),
 * so the Volumes are taken, the QEMU that served them is stopped and removed, and the VM's own
 * reconcile boots the guest afresh; status.target.resumedAt says when it had booted.
 */
export async function bootHere(ctx: MigrationContext, m: Migration, vm: VirtualMachine): Promise<Result> {
  const uid = m.status!.vmUID!;
  const instance = ctx.driver.state(uid);
  if (instance?.incoming) {
    if (instance.phase !== 'exited') {
      await takeMirroredVolumes(ctx, vm);
      await ctx.driver.kill(uid);
      return { requeueAfterMs: STARTING_RETRY_MS };
    }
    await ctx.driver.remove(uid);
    ctx.requeueVm(objectKey(vm.metadata));
    return { requeueAfterMs: BOOT_POLL_MS };
  }
  if (!instance?.bootedAt) return { requeueAfterMs: BOOT_POLL_MS };
  await reportTarget(ctx, m, { resumedAt: instance.bootedAt });
  ctx.log.info({ migration: objectKey(m.metadata), vm: objectKey(vm.metadata) }, 'cold-migrated guest booted here');
  return {};
}
