import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../../global-options.js';
import { OUTPUT_CHOICES } from '../../output/output-format.js';
import type { GetArgs } from './args.js';

export const getCommand: CommandModule<GlobalArgs, GetArgs> = {
  command: 'get <kind> [names..]',
  describe: 'Show objects of a kind: a table, or their YAML/JSON/names',
  builder: (y) =>
    y
      .positional('kind', { type: 'string', describe: 'vm, virtualmachines, node, ... (see api-resources)' })
      .positional('names', { type: 'string', array: true, default: [], describe: 'Object names (default: all)' })
      .option('output', {
        alias: 'o',
        type: 'string',
        default: 'table',
        describe: `Output format: ${OUTPUT_CHOICES.join(', ').replace(/=/g, '=…')} (kubectl's JSONPath, e.g. -o jsonpath='{.items[*].metadata.name}')`,
      })
      .option('selector', { alias: 'l', type: 'string', describe: 'Label selector, e.g. app=web,tier!=db' })
      .option('field-selector', { type: 'string', describe: 'Field selector, e.g. spec.nodeName=n1' })
      .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'List across all namespaces' })
      .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'After listing, print changes until interrupted' })
      .option('show-labels', { type: 'boolean', default: false, describe: 'Add a LABELS column' })
      .option('show-managed-fields', { type: 'boolean', default: false, describe: 'With -o yaml|json: keep metadata.managedFields (who owns which field)' })
      .option('headers', { type: 'boolean', default: true, describe: 'Print the header row (--no-headers to omit)' })
      .example(`$0 get vms -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'`, 'one line per VM: its name and phase')
      .example(`$0 get vm web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`, 'whether web is Ready') as never,
  handler: (args) => import('./get.js').then((m) => m.get(args)),
};
