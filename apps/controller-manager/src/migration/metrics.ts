/**
 * The migration controller's own metrics, beside the controller's generic ones:
 *
 *   shoal_migrations_total{outcome, reason}      Migrations ended by this controller: Succeeded
 *                                                (reason ""), Failed or Aborted with the reason
 *                                                written (TargetNotEligible, TransferTimedOut, …)
 *   shoal_migration_downtime_seconds             the guest's pause at the switchover of each
 *                                                Succeeded live migration (status.downtimeMs)
 *   shoal_migration_cold_fallbacks_total{reason} Live attempts that failed with `reason` and went
 *                                                on as Cold (spec.allowColdFallback)
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { perRegistry } from '@shoal/controller-runtime';

interface MetricSet {
  outcomes: Counter<'outcome' | 'reason'>;
  downtime: Histogram;
  fallbacks: Counter<'reason'>;
}

const metricSet = perRegistry((registers): MetricSet => ({
  outcomes: new Counter({
    name: 'shoal_migrations_total',
    help: 'Migrations that ended, by outcome (Succeeded, Failed, Aborted) and the reason written (empty for Succeeded).',
    labelNames: ['outcome', 'reason'],
    registers,
  }),
  downtime: new Histogram({
    name: 'shoal_migration_downtime_seconds',
    help: "The guest's pause at the switchover of each Succeeded migration (QEMU's downtime at the source plus the switchover).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  }),
  fallbacks: new Counter({
    name: 'shoal_migration_cold_fallbacks_total',
    help: 'Live migration attempts that failed, by reason, and went on as cold migrations (spec.allowColdFallback).',
    labelNames: ['reason'],
    registers,
  }),
}));

export class MigrationMetrics {
  private readonly set: MetricSet;

  constructor(registry: Registry) {
    this.set = metricSet(registry);
  }

  ended(outcome: 'Succeeded' | 'Failed' | 'Aborted', reason = '', downtimeMs?: number): void {
    this.set.outcomes.inc({ outcome, reason });
    if (downtimeMs !== undefined) this.set.downtime.observe(downtimeMs / 1000);
  }

  fellBack(reason: string): void {
    this.set.fallbacks.inc({ reason });
  }
}
