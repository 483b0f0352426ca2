/**
 * The agent's --config file, reloaded when it changes (@shoal/controller-runtime's
 * ConfigReloader): the file is parsed and checked as at start, flags on the command line still
 * win, and of what changed only these take effect while the agent runs:
 *
 *   --fence-timeout     on every node of the process, within the range the flag allows against
 *                       the lease duration in force, in the order that keeps the health
 *                       controller's count safe (fencing/fence-timeout-change.ts); first, since
 *                       it writes to the apiserver and may fail
 *   --backup-bandwidth  for backups that start from now on
 *   --log-level
 *
 * Any other change is logged as needing a restart, and not applied.
 */
import type { Logger } from 'pino';
import { applyFlagChanges, ConfigReloader, parseFlagsFile } from '@shoal/controller-runtime';
import type { Agent } from './agent.js';
import { parseAgentFlags, type AgentFlags } from './flags.js';
import { defaultFenceTimeoutSeconds } from './fencing/timing.js';

export interface AgentConfigOptions {
  /** The command line, parsed again with the file's new text: its flags win as they did at start. */
  args: string[];
  path: string;
  initial: { config: AgentFlags; text: string };
  agents: readonly Pick<Agent, 'setFenceTimeout' | 'setBackupBandwidth'>[];
  log: Logger;
}

export async function watchAgentConfig(o: AgentConfigOptions): Promise<ConfigReloader<AgentFlags>> {
  const where = { source: 'config', path: o.path, log: o.log };
  const reloader = new ConfigReloader<AgentFlags>({
    ...where,
    initial: o.initial,
    load: (text) => parseAgentFlags(o.args, (path) => parseFlagsFile(text, path)),
    apply: applyFlagChanges<AgentFlags>({
      ...where,
      live: {
        'fence-timeout': async (next, current) => {
          // The lease duration in force, not the file's: a new one waits for a restart.
          const lease = current['lease-duration'];
          const seconds = next['fence-timeout'] ?? defaultFenceTimeoutSeconds(lease);
          await Promise.all(o.agents.map((a) => a.setFenceTimeout(seconds)));
        },
        'backup-bandwidth': (next) => {
          for (const a of o.agents) a.setBackupBandwidth(next['backup-bandwidth']);
        },
        'log-level': (next) => {
          o.log.level = next['log-level'];
        },
      },
    }),
  });
  await reloader.start();
  return reloader;
}
