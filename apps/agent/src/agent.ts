/**
 * The node agent, wired: heartbeat through a Lease, register the Node, watch the VMs bound here
 * and converge them through the runtime driver. Like a kubelet, it leaves VMs running when it
 * stops; a restarted agent adopts them again.
 *
 * Fencing (one VM never runs in two places):
 *
 *   no successful renewal for the fence timeout → every VM stops: the per-VM supervisors (QEMU,
 *                                      even while this process is frozen) and FenceMonitor
 *   lease not fresh                 → the reconciler starts nothing and writes nothing (FenceGate)
 *   a renewal ends a stale period   → the informer relists before anything acts again, so a
 *                                      VM bound elsewhere meanwhile is seen as such and its copy
 *                                      here is cleaned up; every key is reconciled after it
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import {
  objectKey,
  type DiskBackup,
  type Image,
  type Migration,
  type Network,
  type Node,
  type StoragePool,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import { Informer, ShoalClient } from '@shoal/client';
import { EventRecorder, type Controller } from '@shoal/controller-runtime';
import type { RuntimeDriver } from './runtime/driver.js';
import { stopAndWait } from './runtime/stop-and-wait.js';
import { QemuDriver } from './runtime/qemu/qemu-driver.js';
import { SimulatedDriver } from './runtime/simulated/simulated-driver.js';
import { publishFencing, registerNode } from './node-registration.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';
import { FenceClock } from './fencing/fence-clock.js';
import { FenceMonitor } from './fencing/fence-monitor.js';
import { fencingCount } from './fencing/fencing-metric.js';
import { fencingTimingError, RENEWALS_PER_LEASE } from './fencing/timing.js';
import { changeFenceTimeout, readFenceTimeoutFile, writeFenceTimeoutFile } from './fencing/fence-timeout-change.js';
import { vmController } from './vm/controller.js';
import { volumeReleaseController } from './volumes/release-controller.js';
import type { VolumeAccess } from './volumes/volume-access.js';
import type { RestartBackoffPolicy } from './vm/restart-backoff.js';
import { FileRestartBackoffStore } from './vm/restart-backoff-store.js';
import { buildAgentHttp, type AgentEndpointTls } from './http-server.js';
import { migrationController } from './migration/controller.js';
import { backupController } from './backups/controller.js';
import { prepareMigrationTls } from './migration/migration-tls.js';
import { heldForMigration, waitingForMigration } from './migration/reconcile.js';
import type { PemFiles } from './runtime/qemu/migration/index.js';
import { nodeNetworkController, type NodeNetworkController } from './network/controller.js';
import { nodeNetworks, removeRunDirIfUnused } from './network/setup.js';
import type { NodeNetworks } from './network/node-networks.js';
import { ImageStore } from './images/image-store.js';
import { resolveBootImage, resolveImageDisk } from './images/boot-image.js';
import { reportNodeImages } from './images/node-images.js';
import { startImageGc } from './images/image-gc.js';
import { VmUsageSampler } from './usage/vm-usage-sampler.js';

export interface AgentOptions {
  server: string;
  /** Bearer token for the apiserver (a node's user is system:node:<name> in group system:nodes). */
  token?: string;
  /** PEM file of the CA that signed the apiserver's certificate. */
  caFile?: string;
  nodeName: string;
  dataDir: string;
  runtime: 'qemu' | 'simulated';
  labels: Record<string, string>;
  bind: string;
  port: number;
  /** Serve the endpoint over HTTPS, consoles and metrics only to the apiserver's client certificate; plain HTTP when absent. */
  tls?: AgentEndpointTls;
  /** Live migration: the node's certificate (none: this node takes part in no migration) and the address it receives on. */
  migration?: { tls?: PemFiles; address: string };
  /** Attach VMs to Networks (network/), with this host's end of the overlay; absent: VMs with Networks wait, saying why. */
  vmNetworks?: { overlayAddress: string };
  leaseDurationSeconds: number;
  fenceTimeoutSeconds: number;
  stopGraceSeconds: number;
  /** Seconds a guest may take to boot before it is killed and restarted; 0 or absent: no limit. */
  bootTimeoutSeconds?: number;
  /** How restarts after a guest's exit back off (CrashLoopBackOff); default: the kubelet's. */
  restartBackoff?: RestartBackoffPolicy;
  /** Stop every VM when the agent stops (the all-in-one `shoal up`), instead of leaving them running. */
  stopVmsOnExit: boolean;
  capacity?: { vcpus?: number; memoryMiB?: number };
  /** With the simulated runtime: how long a guest takes to boot (200 ms); 0 runs it at once. */
  simulatedBootMs?: number;
  /** Seconds a failed image fetch is said before it is tried again (default 30). */
  imageRetrySeconds?: number;
  /** How often the image cache is collected, and how long a file nothing uses stays (defaults 60 s, 600 s). */
  imageGc?: { intervalSeconds: number; graceSeconds: number };
  /** The rate cap of a running VM's disk backup, in MiB/s; 0 or absent: none. */
  backupBandwidthMiBps?: number;
  /** Seconds between samples of the VMs' CPU and memory (default 10): the window `shoalctl top` averages CPU over. */
  usageIntervalSeconds?: number;
  log: Logger;
}

export class Agent {
  private readonly client: ShoalClient;
  private readonly clock: FenceClock;
  private driver!: RuntimeDriver;
  private usage?: VmUsageSampler;
  private informer!: Informer<VirtualMachine>;
  private controller?: Controller;
  private volumes?: Informer<Volume>;
  private pools?: Informer<StoragePool>;
  private images?: Informer<Image>;
  private nodeImages?: { stop(): void };
  private imageGc?: { stop(): void };
  private volumeRelease?: Controller;
  private migrations?: Informer<Migration>;
  private migrationController?: Controller;
  private diskBackups?: Informer<DiskBackup>;
  private backupController?: Controller;
  private networkInformer?: Informer<Network>;
  private nodeInformer?: Informer<Node>;
  private networkController?: NodeNetworkController;
  private nodeNetworks?: NodeNetworks;
  private heartbeat?: LeaseHeartbeat;
  private fence?: FenceMonitor;
  private recorder?: EventRecorder;
  private http?: FastifyInstance;
  private relisting?: Promise<void>;
  private readonly stopping = new AbortController();
  /** The fence timeout in force (setFenceTimeout changes it). */
  private fenceTimeoutSeconds: number;
  /** The backup bandwidth cap in force, MiB/s (setBackupBandwidth changes it). */
  private backupBandwidthMiBps: number;
  /** The fence timeout in force for the VM supervisors, which read it as it changes. */
  private readonly fenceFile: string;
  address = '';

  constructor(private readonly o: AgentOptions) {
    this.client = new ShoalClient({ server: o.server, token: o.token, caFile: o.caFile, userAgent: `shoal-agent/${o.nodeName}` });
    this.clock = new FenceClock(o.leaseDurationSeconds * 1000, o.fenceTimeoutSeconds * 1000);
    this.fenceTimeoutSeconds = o.fenceTimeoutSeconds;
    this.backupBandwidthMiBps = o.backupBandwidthMiBps ?? 0;
    this.fenceFile = join(o.dataDir, 'fence-timeout');
  }

  /**
   * Changes the fence timeout while VMs run (a reload of the config file): within the range the
   * flag allows against the lease duration in force, and in the order that never lets the
   * health controller count on less than this node keeps (fencing/fence-timeout-change.ts).
   */
  async setFenceTimeout(seconds: number): Promise<void> {
    const { o } = this;
    const error = fencingTimingError({ leaseDurationSeconds: o.leaseDurationSeconds, fenceTimeoutSeconds: seconds });
    if (error) throw new Error(error);
    const from = this.fenceTimeoutSeconds;
    await changeFenceTimeout(from, seconds, {
      enforce: (s) => this.enforceFenceTimeout(s),
      publish: (s) => publishFencing(this.client, o.nodeName, { leaseDurationSeconds: o.leaseDurationSeconds, fenceTimeoutSeconds: s }),
    });
    if (seconds !== from) o.log.info({ from, to: seconds }, 'fence timeout changed');
  }

  private async enforceFenceTimeout(seconds: number): Promise<void> {
    await writeFenceTimeoutFile(this.fenceFile, seconds);
    this.clock.fenceTimeoutMs = seconds * 1000;
    this.fenceTimeoutSeconds = seconds;
  }

  /** Changes the rate cap of backups that start from now on (a running copy keeps its own). */
  setBackupBandwidth(mibps: number): void {
    this.backupBandwidthMiBps = mibps;
  }

  async start(): Promise<void> {
    const { o } = this;
    // For the getters below, which read a setting in force at each use (a config reload changes it).
    const agent = this;
    await mkdir(o.dataDir, { recursive: true });
    const heartbeatFile = join(o.dataDir, 'heartbeat');
    // First of all: a restarted agent's VMs are fenced unless it renews within the fence
    // timeout, so nothing slower (probing QEMU, adopting VMs) comes before the first renewal.
    this.heartbeat = new LeaseHeartbeat({
      client: this.client,
      nodeName: o.nodeName,
      leaseDurationSeconds: o.leaseDurationSeconds,
      renewIntervalMs: (o.leaseDurationSeconds * 1000) / RENEWALS_PER_LEASE,
      // Simulated VMs have no supervisor to read it: 1,000 simulated nodes would touch it ~100 times a second.
      heartbeatFile: o.runtime === 'qemu' ? heartbeatFile : undefined,
      clock: this.clock,
      onRenewed: (endedStale) => {
        if (endedStale) o.log.warn({ fenceTimeoutSeconds: this.fenceTimeoutSeconds }, 'lease renewed after a stale period: relisting VMs before acting again');
        if (this.clock.needsRelist()) this.relistInBackground();
      },
      log: o.log,
    });
    await this.heartbeat.start();
    // The VMs of the previous run read the fence file: a shorter timeout is theirs before it is
    // published, a longer one only after (fencing/fence-timeout-change.ts).
    const previousFenceTimeout = await readFenceTimeoutFile(this.fenceFile);
    const longerThanBefore = previousFenceTimeout !== undefined && o.fenceTimeoutSeconds > previousFenceTimeout;
    if (!longerThanBefore) await writeFenceTimeoutFile(this.fenceFile, o.fenceTimeoutSeconds);

    if (o.runtime === 'qemu') {
      const qemu = new QemuDriver({
        dataDir: o.dataDir,
        heartbeatFile,
        get fenceSeconds() {
          return agent.fenceTimeoutSeconds;
        },
        fenceFile: this.fenceFile,
        capacity: o.capacity,
      });
      await qemu.init();
      this.driver = qemu;
    } else {
      this.driver = new SimulatedDriver({ capacity: o.capacity, bootMs: o.simulatedBootMs });
    }
    const adopted = await this.driver.adopt();
    if (adopted.length) o.log.info({ vms: adopted.map((i) => `${objectKey(i)} pid=${i.pid ?? '-'}`) }, 'adopted running VMs');
    this.fence = new FenceMonitor({ clock: this.clock, driver: this.driver, log: o.log, fencings: fencingCount(o.nodeName) });
    this.fence.start();

    this.usage = new VmUsageSampler(this.driver, o.usageIntervalSeconds && o.usageIntervalSeconds * 1000);
    this.usage.start();
    this.http = buildAgentHttp({ driver: this.driver, ready: () => this.informer?.hasSynced() ?? false, usage: this.usage, tls: o.tls });
    await this.http.listen({ host: o.bind, port: o.port });
    // What the apiserver dials for consoles (Node.status.agentAddress); its scheme tells it whether to use TLS.
    const host = o.bind.includes(':') ? `[${o.bind}]` : o.bind;
    this.address = `${o.tls ? 'https' : 'http'}://${host}:${(this.http.server.address() as { port: number }).port}`;

    await registerNode(this.client, {
      nodeName: o.nodeName,
      labels: o.labels,
      capacity: this.driver.capacity(),
      runtime: this.driver.info,
      agentAddress: this.address,
      overlayAddress: o.vmNetworks?.overlayAddress,
      fencing: { leaseDurationSeconds: o.leaseDurationSeconds, fenceTimeoutSeconds: o.fenceTimeoutSeconds },
    });
    if (longerThanBefore) await writeFenceTimeoutFile(this.fenceFile, o.fenceTimeoutSeconds);

    this.recorder = new EventRecorder({ client: this.client, component: 'shoal-agent', host: o.nodeName, log: o.log });
    this.informer = new Informer<VirtualMachine>(this.client, 'vm', { fieldSelector: `spec.nodeName=${o.nodeName}` });
    this.volumes = new Informer<Volume>(this.client, 'volume');
    this.pools = new Informer<StoragePool>(this.client, 'storagepool');
    this.images = new Informer<Image>(this.client, 'image');
    const imageStore = new ImageStore({ root: join(o.dataDir, 'images'), log: o.log, retryAfterMs: o.imageRetrySeconds && o.imageRetrySeconds * 1000 });
    await imageStore.load();
    this.nodeImages = reportNodeImages({ client: this.client, nodeName: o.nodeName, store: imageStore, log: o.log });
    const images = this.images;
    const access: VolumeAccess = {
      nodeName: o.nodeName,
      nodeLabels: o.labels,
      dataDir: o.dataDir,
      client: this.client,
      volumes: this.volumes,
      pools: this.pools,
      imageDisk: (name) => resolveImageDisk(images, imageStore, name),
      diskBackups: () => this.diskBackups!.list(),
    };
    this.volumeRelease = volumeReleaseController({ access, informer: this.volumes, log: o.log });
    this.migrations = new Informer<Migration>(this.client, 'migration');
    this.diskBackups = new Informer<DiskBackup>(this.client, 'diskbackup');
    const fence = { mayAct: () => this.clock.mayAct(Date.now()) };
    if (o.vmNetworks) {
      this.networkInformer = new Informer<Network>(this.client, 'network');
      this.nodeInformer = new Informer<Node>(this.client, 'node');
      this.nodeNetworks = await nodeNetworks(o.dataDir, o.vmNetworks.overlayAddress, o.log);
      this.networkController = nodeNetworkController({
        nodeName: o.nodeName,
        networks: this.nodeNetworks,
        vms: this.informer,
        networkInformer: this.networkInformer,
        nodes: this.nodeInformer,
        driver: this.driver,
        log: o.log,
      });
    }
    const attachNetworks = this.networkController?.attach;
    const migration = migrationController({
      nodeName: o.nodeName,
      client: this.client,
      migrations: this.migrations,
      vms: this.informer,
      driver: this.driver,
      fence,
      volumes: access,
      attachNetworks,
      bootImage: (name) => resolveBootImage(images, imageStore, name),
      tls: o.migration?.tls ? await prepareMigrationTls(o.dataDir, o.migration.tls) : undefined,
      listenAddress: o.migration?.address ?? '127.0.0.1',
      stopGraceMs: o.stopGraceSeconds * 1000,
      recorder: this.recorder,
      log: o.log,
      requeueVm: (key) => this.controller?.queue.add(key),
    });
    this.migrationController = migration.controller;
    this.backupController = backupController({
      nodeName: o.nodeName,
      client: this.client,
      diskBackups: this.diskBackups,
      driver: this.driver,
      get bandwidthBytesPerSecond() {
        return agent.backupBandwidthMiBps * 1024 * 1024;
      },
      recorder: this.recorder,
      log: o.log,
    });
    this.controller = vmController({
      nodeName: o.nodeName,
      client: this.client,
      informer: this.informer,
      driver: this.driver,
      fence,
      recorder: this.recorder,
      get fenceTimeoutSeconds() {
        return agent.fenceTimeoutSeconds;
      },
      stopGraceMs: o.stopGraceSeconds * 1000,
      restartBackoff: o.restartBackoff,
      bootTimeoutMs: (o.bootTimeoutSeconds ?? 0) * 1000,
      // On disk, beside the instances: a restarted agent goes on waiting where this one stopped.
      restartBackoffStore: new FileRestartBackoffStore(join(o.dataDir, 'restart-backoff'), o.log),
      log: o.log,
      volumes: { access, informer: this.volumes, pools: this.pools },
      waitingForMigration: (uid) => waitingForMigration(migration.context, uid),
      heldForMigration: (uid) => heldForMigration(migration.context, uid),
      migrations: this.migrations,
      networks: this.networkController && { attach: this.networkController.attach, informer: this.networkInformer! },
      images: { informer: this.images, store: imageStore },
    });
    const informers = [
      this.volumes,
      this.pools,
      this.migrations,
      this.diskBackups,
      this.images,
      this.informer,
      ...(this.networkInformer ? [this.networkInformer, this.nodeInformer!] : []),
    ];
    for (const informer of informers) informer.start();
    await Promise.all(informers.map((i) => i.waitForSync()));
    this.imageGc = startImageGc({
      nodeName: o.nodeName,
      store: imageStore,
      vms: this.informer,
      images: this.images,
      volumes: this.volumes,
      intervalMs: (o.imageGc?.intervalSeconds ?? 60) * 1000,
      graceMs: (o.imageGc?.graceSeconds ?? 600) * 1000,
      log: o.log,
    });
    // Instances whose VM is gone or bound elsewhere are found through their keys.
    this.enqueueEverything();
    // The node's networks first: a guest adopted across a restart keeps its taps (nothing it uses is made again).
    this.networkController?.controller.start();
    this.controller.start();
    this.volumeRelease.start();
    this.migrationController.start();
    this.backupController.start();
  }

  /** Every VM the cache holds and every instance the runtime has: the sweep after a (re)list. */
  private enqueueEverything(): void {
    const queue = this.controller!.queue;
    for (const vm of this.informer.list()) queue.add(objectKey(vm.metadata));
    for (const instance of this.driver.list()) queue.add(objectKey(instance));
  }

  /** Relists until the cache is as new as the last stale period; one relist at a time. */
  private relistInBackground(): void {
    // Before start() has built the informer there is nothing to relist: its first list is new.
    if (this.relisting || !this.informer) return;
    this.relisting = (async () => {
      while (this.clock.needsRelist() && !this.stopping.signal.aborted) {
        const epoch = this.clock.epoch;
        // A fresh list, not a resumed watch: the store is replaced by what the apiserver has
        // now, so a VM bound elsewhere meanwhile leaves the cache (a delete event, reconciled
        // as a stray) before anything acts on it.
        await this.informer.stop();
        const synced = once(this.informer, 'sync', { signal: this.stopping.signal });
        this.informer.start();
        await synced;
        this.clock.relisted(epoch);
        this.o.log.info({ epoch }, 'relisted VMs after a stale period');
        this.enqueueEverything();
      }
    })()
      .catch((err) => {
        if (!this.stopping.signal.aborted) this.o.log.error({ err: (err as Error).message }, 'relist failed');
      })
      .finally(() => {
        this.relisting = undefined;
        // A stale period that ended while this relist ran needs one more.
        if (this.clock.needsRelist() && !this.stopping.signal.aborted) this.relistInBackground();
      });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.controller?.stop();
    await this.volumeRelease?.stop();
    await this.migrationController?.stop();
    await this.backupController?.stop();
    await this.networkController?.controller.stop();
    await this.relisting;
    await this.informer?.stop();
    await this.volumes?.stop();
    await this.pools?.stop();
    await this.images?.stop();
    this.nodeImages?.stop();
    this.imageGc?.stop();
    await this.migrations?.stop();
    await this.diskBackups?.stop();
    await this.networkInformer?.stop();
    await this.nodeInformer?.stop();
    this.heartbeat?.stop();
    this.usage?.stop();
    await this.fence?.stop();
    // No reconcile runs any more: waiting for the guests here is the point.
    if (this.o.stopVmsOnExit) {
      await stopAndWait(this.driver, this.o.stopGraceSeconds * 1000);
      // No guest is left to use the node's networks: what the agent made for them goes too.
      await this.nodeNetworks
        ?.sync({ vms: [], networks: [], peers: [] })
        .catch((err: Error) => this.o.log.warn({ err: err.message }, 'removing the node networks'));
    }
    if (this.nodeNetworks) await removeRunDirIfUnused(this.o.dataDir);
    await this.recorder?.flush();
    await this.driver?.close();
    await this.http?.close();
  }
}
