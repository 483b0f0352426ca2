/**
 * The node agent, wired: register the Node, heartbeat through a Lease, watch the VMs bound here
 * and converge them through the runtime driver. Like a kubelet, it leaves VMs running when it
 * stops; a restarted agent adopts them again.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { objectKey } from '@shoal/api';
import { Informer, ShoalClient } from '@shoal/client';
import { Controller, enqueueObject } from '@shoal/controller-runtime';
import type { RuntimeDriver } from './runtime/driver.js';
import { QemuDriver } from './runtime/qemu/qemu-driver.js';
import { SimulatedDriver } from './runtime/simulated/simulated-driver.js';
import { registerNode } from './node-registration.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';
import { VmReconciler } from './vm/reconciler.js';
import type { VirtualMachine } from './vm/lifecycle.js';
import { buildAgentHttp } from './http-server.js';

export interface AgentOptions {
  server: string;
  nodeName: string;
  dataDir: string;
  runtime: 'qemu' | 'simulated';
  labels: Record<string, string>;
  bind: string;
  port: number;
  leaseDurationSeconds: number;
  fenceTimeoutSeconds: number;
  stopGraceSeconds: number;
  /** Stop every VM when the agent stops (the all-in-one `shoal up`), instead of leaving them running. */
  stopVmsOnExit: boolean;
  capacity?: { vcpus?: number; memoryMiB?: number };
  log: Logger;
}

export class Agent {
  private readonly client: ShoalClient;
  private driver!: RuntimeDriver;
  private informer!: Informer<VirtualMachine>;
  private controller?: Controller;
  private heartbeat!: LeaseHeartbeat;
  private http?: FastifyInstance;
  address = '';

  constructor(private readonly o: AgentOptions) {
    this.client = new ShoalClient({ server: o.server, userAgent: `shoal-agent/${o.nodeName}` });
  }

  async start(): Promise<void> {
    const { o } = this;
    await mkdir(o.dataDir, { recursive: true });
    const heartbeatFile = join(o.dataDir, 'heartbeat');
    if (o.runtime === 'qemu') {
      const qemu = new QemuDriver({ dataDir: o.dataDir, heartbeatFile, fenceSeconds: o.fenceTimeoutSeconds, capacity: o.capacity });
      await qemu.init();
      this.driver = qemu;
    } else {
      this.driver = new SimulatedDriver({ capacity: o.capacity });
    }
    const adopted = await this.driver.adopt();
    if (adopted.length) o.log.info({ vms: adopted.map((i) => `${objectKey(i)} pid=${i.pid ?? '-'}`) }, 'adopted running VMs');

    this.http = buildAgentHttp({ driver: this.driver, ready: () => this.informer?.hasSynced() ?? false });
    await this.http.listen({ host: o.bind, port: o.port });
    this.address = `http://${o.bind}:${(this.http.server.address() as { port: number }).port}`;

    await registerNode(this.client, { nodeName: o.nodeName, labels: o.labels, capacity: this.driver.capacity(), runtime: this.driver.info, agentAddress: this.address });
    this.heartbeat = new LeaseHeartbeat({ client: this.client, nodeName: o.nodeName, leaseDurationSeconds: o.leaseDurationSeconds, renewIntervalMs: (o.leaseDurationSeconds * 1000) / 4, heartbeatFile, log: o.log });
    await this.heartbeat.start();

    this.informer = new Informer<VirtualMachine>(this.client, 'vm', { fieldSelector: `spec.nodeName=${o.nodeName}` });
    const reconciler = new VmReconciler({ nodeName: o.nodeName, client: this.client, informer: this.informer, driver: this.driver, stopGraceMs: o.stopGraceSeconds * 1000, log: o.log });
    this.controller = new Controller({
      name: 'agent-vms',
      // Several VMs boot or stop at once; one slow guest shutdown never holds up the others.
      workers: 8,
      reconcile: async (key) => (await reconciler.reconcile(key)) ?? {},
      log: o.log,
    });
    const controller = this.controller;
    controller.watch(this.informer, enqueueObject());
    this.driver.on('change', (uid: string) => {
      const instance = this.driver.state(uid);
      if (instance) controller.queue.add(objectKey(instance));
    });
    this.informer.start();
    await this.informer.waitForSync();
    // Instances whose VM is gone or bound elsewhere are found through their keys.
    for (const instance of this.driver.list()) controller.queue.add(objectKey(instance));
    controller.start();
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
    await this.informer?.stop();
    this.heartbeat?.stop();
    if (this.o.stopVmsOnExit) await Promise.all(this.driver.list().map((i) => this.driver.stop(i.uid, this.o.stopGraceSeconds * 1000)));
    await this.driver?.close();
    await this.http?.close();
  }
}
