/**
 * The scheduler's own metrics, beside the controller's generic ones:
 *
 *   shoal_scheduler_schedule_attempts_total{result}   scheduled | unschedulable | conflict | error
 *   shoal_scheduler_decision_duration_seconds         the pure placement step (filters + scores)
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export type AttemptResult = 'scheduled' | 'unschedulable' | 'conflict' | 'error';

/** One set per registry: the scheduler is built again each time this process wins leadership anew. */
const sets = new WeakMap<Registry, { attempts: Counter<'result'>; decisions: Histogram }>();

export class SchedulerMetrics {
  private readonly attempts: Counter<'result'>;
  private readonly decisions: Histogram;

  constructor(registry: Registry) {
    const set = sets.get(registry);
    if (set) {
      this.attempts = set.attempts;
      this.decisions = set.decisions;
      return;
    }
    const registers = [registry];
    this.attempts = new Counter({ name: 'shoal_scheduler_schedule_attempts_total', help: 'Scheduling attempts by result.', labelNames: ['result'], registers });
    this.decisions = new Histogram({
      name: 'shoal_scheduler_decision_duration_seconds',
      help: 'Time to pick a node for one VM (filters and scores over the nodes it looks at), without API calls.',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1],
      registers,
    });
    sets.set(registry, { attempts: this.attempts, decisions: this.decisions });
  }

  attempt(result: AttemptResult): void {
    this.attempts.inc({ result });
  }

  decided(seconds: number): void {
    this.decisions.observe(seconds);
  }
}
