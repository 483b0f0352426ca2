/**
 * Runs a set of controllers in one process: builds them on shared informers, starts the
 * informers, waits until every cache is full, then starts each controller once its leader
 * elector says this process leads (AlwaysLeader: at once; LeaseElector with --leader-elect: when
 * it holds that controller's Lease). A standby keeps its informers warm, so it takes over with
 * a full cache. Leadership lost: the controller stops (running reconciles finish), a fresh one is
 * built — its queue and caches may be stale by now — and the process stands for election again.
 * Stops in the reverse order: no new reconciles, running ones finish, Leases are released (a
 * standby takes over at once), informers stop, pending Events are written.
 */
import type { ShoalClient } from '@shoal/client';
import { AlwaysLeader, EventRecorder, InformerFactory, LeaderMetrics, type Controller, type LeaderElector } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_SETTINGS, type ControllerDefinition, type ControllerEnv, type ControllerSettings } from './controllers.js';

export interface ManagerOptions {
  client: ShoalClient;
  controllers: readonly ControllerDefinition[];
  registry: Registry;
  /** Default: DEFAULT_SETTINGS. */
  settings?: ControllerSettings;
  log: Logger;
  /** One elector per controller (DESIGN: leader election per controller); default: always leader. */
  electorFor?: (controller: string) => LeaderElector;
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
  private readonly leaderMetrics: LeaderMetrics;
  private readonly env: ControllerEnv;
  private synced = false;

  constructor(private readonly opts: ManagerOptions) {
    this.informers = new InformerFactory(opts.client, { log: opts.log });
    this.leaderMetrics = new LeaderMetrics(opts.registry);
    const env: ControllerEnv = (this.env = {
      client: opts.client,
      informers: this.informers,
      registry: opts.registry,
      log: opts.log,
      settings: opts.settings ?? DEFAULT_SETTINGS,
      recorder: (component) => this.recorder(component),
    });
    for (const definition of opts.controllers) {
      const elector = opts.electorFor?.(definition.name) ?? new AlwaysLeader();
      this.running.push({ definition, controller: definition.build(env), elector, leading: false });
      this.leaderMetrics.set(definition.name, false);
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

  /** Whether this process leads each controller now. */
  get leading(): Record<string, boolean> {
    return Object.fromEntries(this.running.map((r) => [r.definition.name, r.leading]));
  }

  /** Stands for election, runs the controller while leading, and stands again after a loss, until stop(). */
  private async lead(r: Running): Promise<void> {
    const name = r.definition.name;
    const stopping = this.stopping.signal;
    while (!stopping.aborted) {
      let lost: AbortSignal;
      try {
        lost = await r.elector.acquire(stopping);
      } catch (err) {
        if (!stopping.aborted) this.opts.log.error({ controller: name, err: (err as Error).message }, 'leader election failed');
        return;
      }
      if (stopping.aborted) return; // stop() releases
      r.leading = true;
      this.leaderMetrics.set(name, true);
      r.controller.start();
      this.opts.log.info({ controller: name }, 'leading; controller started');
      await whenEither(lost, stopping);
      if (stopping.aborted) return; // stop() stops the controller, then releases
      r.leading = false;
      this.leaderMetrics.set(name, false);
      const why = lost.reason instanceof Error ? lost.reason.message : String(lost.reason);
      this.opts.log.warn({ controller: name, why }, 'leadership lost; stopping the controller and standing by');
      await r.controller.stop();
      if (stopping.aborted) return;
      r.controller = r.definition.build(this.env);
    }
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await Promise.all(this.running.map((r) => r.controller.stop()));
    // Every elector, not only the leading ones: one may have won a Lease just as we stopped.
    await Promise.all(this.running.map((r) => r.elector.release().catch(() => undefined)));
    for (const r of this.running) {
      r.leading = false;
      this.leaderMetrics.set(r.definition.name, false);
    }
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

/** Resolves once either signal has aborted. */
function whenEither(a: AbortSignal, b: AbortSignal): Promise<void> {
  if (a.aborted || b.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      a.removeEventListener('abort', done);
      b.removeEventListener('abort', done);
      resolve();
    };
    a.addEventListener('abort', done, { once: true });
    b.addEventListener('abort', done, { once: true });
  });
}
