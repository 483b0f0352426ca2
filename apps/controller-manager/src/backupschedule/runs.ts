/**
 * When a BackupSchedule runs, pure (STYLE.md 3): from its cron, what its status says was made
 * last, and the clock, the run to make now, if any. Kubernetes CronJob's rules
 * (pkg/controller/cronjob/utils.go, mostRecentScheduleTime), which its users already know:
 *
 *   runs due since the last one made     → the most recent of them is made, once; the earlier
 *   (lastScheduleTime, else creation)      ones are not made up (no burst after a controller was
 *                                          down, or a schedule paused for a week)
 *   that run later than startingDeadline → skipped (the caller says so with a BackupSkipped
 *                                          Event); the next one on time is made as usual
 *   paused                               → nothing made, nothing skipped, no next run; unpausing
 *                                          makes the most recent run missed while paused, as
 *                                          above (CronJob's suspend does the same)
 *
 * Nothing here is remembered between calls: a run counts as made once lastScheduleTime says so,
 * and the Backup of a run has one name (scheduledBackupName), so making it twice is refused.
 */
import type { CronSchedule } from '@shoal/api';

export interface RunInput {
  paused?: boolean;
  startingDeadlineSeconds?: number;
  /** status.lastScheduleTime: the run made last. */
  lastScheduleTime?: string;
  /** Runs from before the schedule existed are not its to make. */
  creationTimestamp?: string;
}

export interface RunDecision {
  /** The run to make now: its scheduled time. */
  run?: number;
  /** The run that is due but later than startingDeadlineSeconds allows: not made. */
  skip?: number;
  /** Whether earlier runs than `run` or `skip` were missed too (they are not made up). */
  missedEarlier?: boolean;
  /** The next run after now; none while paused (no Backup is coming). */
  next?: number;
}

export function decideRun(cron: CronSchedule, input: RunInput, now: number): RunDecision {
  if (input.paused) return {};
  const next = cron.next(now);
  const since = Date.parse(input.lastScheduleTime ?? input.creationTimestamp ?? '');
  const latest = cron.latest(now);
  if (latest === undefined || Number.isNaN(since) || latest <= since) return { next };
  const missedEarlier = (cron.next(since) ?? latest) < latest;
  const deadline = input.startingDeadlineSeconds;
  if (deadline !== undefined && now - latest > deadline * 1000) return { skip: latest, missedEarlier, next };
  return { run: latest, missedEarlier, next };
}
