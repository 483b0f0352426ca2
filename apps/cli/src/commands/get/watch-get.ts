/**
 * `get -w`: the current list, then one line per change until Ctrl-C
 * (../../watch/list-then-watch.ts). Rows are rendered here from the kind's printer columns
 * (watch events carry objects, not table rows), with the column widths of the first listing so
 * later rows line up under the header.
 */
import type { KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { columnWidths, formatRow } from '../../output/columns.js';
import { objectTable } from '../../output/object-table.js';
import { isTableOutput, type OutputFormat } from '../../output/output-format.js';
import { formatStreamedObject } from '../../output/print-objects.js';
import { tableView, type ViewOptions } from '../../output/table-view.js';
import { listThenWatch } from '../../watch/list-then-watch.js';
import type { GetArgs, GetTarget } from './args.js';

export async function watchGet(client: ShoalClient, target: GetTarget, args: GetArgs, output: OutputFormat): Promise<void> {
  const view: ViewOptions = { wide: output === 'wide', withNamespace: args.allNamespaces && target.kind.namespaced, showLabels: args.showLabels };
  let widths: number[] | undefined;

  const print = (objects: KubeObject[]) => {
    if (!isTableOutput(output)) {
      for (const o of objects) process.stdout.write(formatStreamedObject(target.kind, o, output, { showManagedFields: args.showManagedFields }));
      return;
    }
    const { header, rows } = tableView(objectTable(target.kind, objects), view);
    if (!widths) {
      widths = columnWidths([header, ...rows]);
      if (args.headers) process.stdout.write(`${formatRow(header, widths)}\n`);
    }
    for (const row of rows) {
      widths = widths.map((w, i) => Math.max(w, row[i]?.length ?? 0));
      process.stdout.write(`${formatRow(row, widths)}\n`);
    }
  };

  // A named object that does not exist is an error, not an empty watch.
  if (target.names.length === 1) await client.get(target.kind, target.names[0]!, { namespace: target.namespace });
  const query = {
    namespace: target.namespace,
    labelSelector: target.labelSelector,
    fieldSelector: target.names.length === 1 ? `metadata.name=${target.names[0]}` : target.fieldSelector,
  };
  await listThenWatch(client, target.kind, query, { onList: print, onEvent: (event) => print([event.object]) });
}
