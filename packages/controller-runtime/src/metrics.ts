/**
 * Per-controller Prometheus metrics, named after controller-runtime's
 * (pkg/metrics/workqueue.go, pkg/internal/controller/metrics) with a `shoal_` prefix:
 *
 *   shoal_workqueue_depth{name}                          keys waiting for a worker
 *   shoal_workqueue_adds_total{name}                     keys added (after dedupe)
 *   shoal_workqueue_retries_total{name}                  rate-limited re-adds (failures)
 *   shoal_workqueue_queue_duration_seconds{name}         time from add to a worker taking it
 *   shoal_controller_reconcile_total{controller,result}  success | requeue_after | error | terminal_error
 *   shoal_controller_reconcile_errors_total{controller}  reconciles that threw (terminal ones included)
 *   shoal_controller_reconcile_duration_seconds{controller}
 *   shoal_controller_active_workers{controller}
 *   shoal_leader_is_leader{controller}                   1 leading, 0 standing by (LeaderMetrics)
 *
 * One set of metric objects per registry, shared by every controller in the process and told
 * apart by label, so two controllers never register the same name twice.
 */
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { perRegistry } from './per-registry.js';
import type { QueueMetrics } from './workqueue.js';

export type ReconcileOutcome = 'success' | 'requeue_after' | 'error' | 'terminal_error';

interface MetricSet {
  depth: Gauge<'name'>;
  adds: Counter<'name'>;
  retries: Counter<'name'>;
  queueDuration: Histogram<'name'>;
  reconciles: Counter<'controller' | 'result'>;
  errors: Counter<'controller'>;
  duration: Histogram<'controller'>;
  activeWorkers: Gauge<'controller'>;
}

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const metricSet = perRegistry((registers): MetricSet => ({
  depth: new Gauge({ name: 'shoal_workqueue_depth', help: 'Keys waiting in the workqueue for a worker.', labelNames: ['name'], registers }),
  adds: new Counter({ name: 'shoal_workqueue_adds_total', help: 'Keys added to the workqueue (after dedupe).', labelNames: ['name'], registers }),
  retries: new Counter({ name: 'shoal_workqueue_retries_total', help: 'Rate-limited re-adds after a failed reconcile.', labelNames: ['name'], registers }),
  queueDuration: new Histogram({
    name: 'shoal_workqueue_queue_duration_seconds',
    help: 'How long a key waited in the workqueue before a worker took it.',
    labelNames: ['name'],
    buckets: SECONDS_BUCKETS,
    registers,
  }),
  reconciles: new Counter({ name: 'shoal_controller_reconcile_total', help: 'Reconciles by outcome.', labelNames: ['controller', 'result'], registers }),
  errors: new Counter({ name: 'shoal_controller_reconcile_errors_total', help: 'Reconciles that failed (threw).', labelNames: ['controller'], registers }),
  duration: new Histogram({
    name: 'shoal_controller_reconcile_duration_seconds',
    help: 'How long one reconcile took.',
    labelNames: ['controller'],
    buckets: SECONDS_BUCKETS,
    registers,
  }),
  activeWorkers: new Gauge({
    name: 'shoal_controller_active_workers',
    help: 'Workers currently running a reconcile.',
    labelNames: ['controller'],
    registers,
  }),
}));

export class ControllerMetrics {
  private readonly set: MetricSet;

  constructor(
    readonly controller: string,
    registry: Registry = globalRegistry,
  ) {
    this.set = metricSet(registry);
    // Present from the start, so a dashboard shows 0 rather than nothing.
    this.set.depth.set({ name: controller }, 0);
    this.set.activeWorkers.set({ controller }, 0);
    this.set.errors.inc({ controller }, 0);
    this.set.retries.inc({ name: controller }, 0);
    this.set.duration.zero({ controller });
    this.set.queueDuration.zero({ name: controller });
  }

  get queue(): QueueMetrics {
    const name = this.controller;
    const s = this.set;
    return {
      depth: (n) => s.depth.set({ name }, n),
      added: () => s.adds.inc({ name }),
      retried: () => s.retries.inc({ name }),
      waited: (seconds) => s.queueDuration.observe({ name }, seconds),
    };
  }

  reconciled(outcome: ReconcileOutcome, seconds: number): void {
    const controller = this.controller;
    this.set.reconciles.inc({ controller, result: outcome });
    this.set.duration.observe({ controller }, seconds);
    if (outcome === 'error' || outcome === 'terminal_error') this.set.errors.inc({ controller });
  }

  workerStarted(): void {
    this.set.activeWorkers.inc({ controller: this.controller });
  }

  workerFinished(): void {
    this.set.activeWorkers.dec({ controller: this.controller });
  }
}

const leaderGauge = perRegistry(
  (registers) =>
    new Gauge({
      name: 'shoal_leader_is_leader',
      help: 'Whether this process leads the controller (1) or stands by (0).',
      labelNames: ['controller'],
      registers,
    }),
);

/**
 * shoal_leader_is_leader{controller}: 1 while this process leads that controller, 0 while it
 * stands by (client-go's leader_election_master_status, per controller).
 */
export class LeaderMetrics {
  private readonly gauge: Gauge<'controller'>;

  constructor(registry: Registry = globalRegistry) {
    this.gauge = leaderGauge(registry);
  }

  set(controller: string, leading: boolean): void {
    this.gauge.set({ controller }, leading ? 1 : 0);
  }
}
