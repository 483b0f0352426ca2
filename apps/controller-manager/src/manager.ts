/**
 * Runs a set of controllers in one process: builds them on shared informers, starts the
 * informers, waits until every cache is full, then starts each controller once its leader
 * elector says this process leads (today: at once, see AlwaysLeader). Stops in the reverse
 * order: no new reconciles, running ones finish, informers stop, pending Events are written.
 */
import type { ShoalClient } from '@shoal/client';
import { AlwaysLeader, EventRecorder, InformerFactory, type Controller, type LeaderElector } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ControllerDefinition, ControllerEnv } from './controllers.js';

export interface ManagerOptions {
  client: ShoalClient;
  controllers: readonly ControllerDefinition[];
  registry: Registry;
  log: Logger;
  /** One elector per controller (DESIGN: leader election per controller); default: always leader. */
  electorFor?: (controller: string) => LeaderElector;
  /** Leadership was lost: the process must stop reconciling (Kubernetes exits). */
  onLeadershipLost?: (controller: string) => void;
}

interface Running {
  definition: ControllerDefinition;
  controller: Controller;
  elector: LeaderElector;
  leading: boolean;
}

const FLUSH_TIMEOUT_MS = 5_000;

export class ControllerManager {
  readonly informers: InformerFactory;
  private readonly recorders = new Map<string, EventRecorder>();
  private readonly running: Running[] = [];
  private readonly stopping = new AbortController();
  private synced = false;

  constructor(private readonly opts: ManagerOptions) {
    this.informers = new InformerFactory(opts.client, { log: opts.log });
    const env: ControllerEnv = {
      client: opts.client,
      informers: this.informers,
      registry: opts.registry,
      log: opts.log,
      recorder: (component) => this.recorder(component),
    };
    for (const definition of opts.controllers) {
      const elector = opts.electorFor?.(definition.name) ?? new AlwaysLeader();
      this.running.push({ definition, controller: definition.build(env), elector, leading: false });
    }
  }

  get names(): string[] {
    return this.running.map((r) => r.definition.name);
  }

  /** Every informer has listed once: the controllers see the whole cluster. */
  get ready(): boolean {
    return this.synced && !this.stopping.signal.aborted;
  }

  /** Starts the informers and resolves once they have synced; controllers start as they win leadership. */
  async start(): Promise<void> {
    this.informers.start();
    await this.informers.waitForSync();
    if (this.stopping.signal.aborted) return;
    this.synced = true;
    for (const r of this.running) void this.lead(r);
  }

  private async lead(r: Running): Promise<void> {
    let lost: AbortSignal;
    try {
      lost = await r.elector.acquire(this.stopping.signal);
    } catch (err) {
      if (!this.stopping.signal.aborted) this.opts.log.error({ controller: r.definition.name, err: (err as Error).message }, 'leader election failed');
      return;
    }
    if (this.stopping.signal.aborted) return;
    r.leading = true;
    r.controller.start();
    this.opts.log.info({ controller: r.definition.name }, 'controller started');
    lost.addEventListener(
      'abort',
      () => {
        if (this.stopping.signal.aborted) return;
        this.opts.log.error({ controller: r.definition.name }, 'leadership lost; stopping');
        void r.controller.stop();
        this.opts.onLeadershipLost?.(r.definition.name);
      },
      { once: true },
    );
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await Promise.all(this.running.map((r) => r.controller.stop()));
    await Promise.all(this.running.filter((r) => r.leading).map((r) => r.elector.release().catch(() => undefined)));
    await this.informers.stop();
    const flushed = Promise.all([...this.recorders.values()].map((r) => r.flush()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([flushed, new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  private recorder(component: string): EventRecorder {
    let r = this.recorders.get(component);
    if (!r) {
      r = new EventRecorder({ client: this.opts.client, component, log: this.opts.log });
      this.recorders.set(component, r);
    }
    return r;
  }
}
