/**
 * The controller-manager's --config file, reloaded when it changes (@shoal/controller-runtime's
 * ConfigReloader): parsed and checked as at start, flags on the command line still winning. Of
 * what changed, these take effect while it runs:
 *
 *   --log-level
 *   --preemption-min-priority-gap, --node-monitor-grace-period,
 *   --migration-min-completion-timeout, --migration-target-ready-timeout
 *       the controllers' settings (controller-env.ts), read at each reconcile; the controller
 *       that reads one is resynced when it changes, so a wait computed with the old value (a
 *       silent node's next look) does not hold the new one back. None can make a controller
 *       unsafe: the grace period only decides when a node is called NotReady (its VMs still
 *       move only after lease expiry + the fence timeout its agent publishes), and the others
 *       bound decisions taken afresh each time.
 *
 * Any other change (the controllers, leader election, the server, credentials, ports, the
 * gitops cache directory) is logged as needing a restart, and not applied.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { applyFlagChanges, ConfigReloader, parseFlagsFile } from '@shoal/controller-runtime';
import type { ControllerSettings } from './controller-env.js';
import { controllerSettings, parseControllerManagerFlags, type ControllerManagerFlags } from './flags.js';
import { HEALTH_NAME } from './health/controller.js';
import { MIGRATION_NAME } from './migration/controller.js';
import { PREEMPTOR_NAME } from './preemptor/controller.js';

type LiveSetting = 'preemptionMinPriorityGap' | 'nodeMonitorGracePeriodSeconds' | 'migrationMinCompletionTimeoutSeconds' | 'migrationTargetReadyTimeoutSeconds';

export interface ControllerManagerConfigOptions {
  /** The command line, parsed again with the file's new text: its flags win as they did at start. */
  args: string[];
  path: string;
  initial: { config: ControllerManagerFlags; text: string };
  /** The settings object the controllers read, changed in place. */
  settings: ControllerSettings;
  /** Reconciles everything a controller watches again (a no-op for one this process does not run). */
  resync(controller: string): void;
  registry: Registry;
  log: Logger;
}

export async function watchControllerManagerConfig(o: ControllerManagerConfigOptions): Promise<ConfigReloader<ControllerManagerFlags>> {
  const where = { source: 'config', path: o.path, log: o.log };
  /** Puts one live setting in force (the others, such as the gitops cache directory, are read at start only), then resyncs its controller. */
  const setting = (field: LiveSetting, controller: string) => (next: ControllerManagerFlags) => {
    o.settings[field] = controllerSettings(next)[field];
    o.resync(controller);
  };
  const reloader = new ConfigReloader<ControllerManagerFlags>({
    ...where,
    registry: o.registry,
    initial: o.initial,
    load: (text) => parseControllerManagerFlags(o.args, (path) => parseFlagsFile(text, path)),
    apply: applyFlagChanges<ControllerManagerFlags>({
      ...where,
      live: {
        'log-level': (next) => {
          o.log.level = next['log-level'];
        },
        'preemption-min-priority-gap': setting('preemptionMinPriorityGap', PREEMPTOR_NAME),
        'node-monitor-grace-period': setting('nodeMonitorGracePeriodSeconds', HEALTH_NAME),
        'migration-min-completion-timeout': setting('migrationMinCompletionTimeoutSeconds', MIGRATION_NAME),
        'migration-target-ready-timeout': setting('migrationTargetReadyTimeoutSeconds', MIGRATION_NAME),
      },
    }),
  });
  await reloader.start();
  return reloader;
}
