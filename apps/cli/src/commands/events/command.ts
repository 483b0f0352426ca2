import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import type { EventsArgs } from './events.js';

export const eventsCommand: CommandModule<GlobalArgs, EventsArgs> = {
  command: 'events',
  describe: 'Show Events, oldest first: what happened to which object, and why',
  builder: (y) =>
    y
      .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'Events of every namespace, with a NAMESPACE column' })
      .option('for', { type: 'string', describe: 'Only the Events about this object: KIND/NAME, e.g. vm/web, node/host-3' })
      .option('types', { type: 'string', describe: 'Only Events of these types: Normal, Warning (comma-separated)' })
      .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'After listing, print each new Event until interrupted' })
      .option('output', { alias: 'o', type: 'string', default: 'table', describe: 'table, yaml, json, name or jsonpath=TEMPLATE (as get)' })
      .option('headers', { type: 'boolean', default: true, describe: 'Print the header row (--no-headers to omit)' })
      .example('$0 events --for vm/web', 'what happened to web: scheduling, boots, restarts, migrations')
      .example('$0 events -A --types Warning -w', 'every warning in the cluster, as it happens') as never,
  handler: (args) => import('./events.js').then((m) => m.events(args)),
};
