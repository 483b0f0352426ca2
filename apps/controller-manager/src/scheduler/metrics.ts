/**
 * The scheduler's own metrics, beside the controller's generic ones:
 *
 *   shoal_scheduler_schedule_attempts_total{result}   scheduled | unschedulable | conflict | error
 *   shoal_scheduler_bind_failures_total{reason}       binds the apiserver refused or that broke, by the
 *                                                     Status reason (Conflict, Forbidden, Invalid,
 *                                                     InternalError …; ConnectionError without an answer)
 *   shoal_scheduler_decision_duration_seconds         the pure placement step (filters + scores)
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { perRegistry } from '@shoal/controller-runtime';

export type AttemptResult = 'scheduled' | 'unschedulable' | 'conflict' | 'error';

interface MetricSet {
  attempts: Counter<'result'>;
  bindFailures: Counter<'reason'>;
  decisions: Histogram;
}

const metricSet = perRegistry((registers): MetricSet => ({
  attempts: new Counter({ name: 'shoal_scheduler_schedule_attempts_total', help: 'Scheduling attempts by result.', labelNames: ['result'], registers }),
  bindFailures: new Counter({
    name: 'shoal_scheduler_bind_failures_total',
    help: 'Binds that failed (each is retried with backoff), by the Status reason the apiserver gave, or ConnectionError.',
    labelNames: ['reason'],
    registers,
  }),
  decisions: new Histogram({
    name: 'shoal_scheduler_decision_duration_seconds',
    help: 'Time to pick a node for one VM (filters and scores over the nodes it looks at), without API calls.',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1],
    registers,
  }),
}));

export class SchedulerMetrics {
  private readonly set: MetricSet;

  constructor(registry: Registry) {
    this.set = metricSet(registry);
  }

  attempt(result: AttemptResult): void {
    this.set.attempts.inc({ result });
  }

  bindFailed(reason: string): void {
    this.set.bindFailures.inc({ reason });
  }

  decided(seconds: number): void {
    this.set.decisions.observe(seconds);
  }
}
