/**
 * `get -w`: the current list, then one line per change until Ctrl-C. Rows are rendered here from
 * the kind's printer columns (watch events carry objects, not table rows), with the column
 * widths of the first listing so later rows line up under the header.
 */
import { ApiError, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { columnWidths, formatRow } from '../../output/columns.js';
import { objectTable } from '../../output/object-table.js';
import { isTableOutput, type OutputFormat } from '../../output/output-format.js';
import { formatStreamedObject } from '../../output/print-objects.js';
import { tableView, type ViewOptions } from '../../output/table-view.js';
import type { GetArgs, GetTarget } from './args.js';

export async function watchGet(client: ShoalClient, target: GetTarget, args: GetArgs, output: OutputFormat): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const selectors = {
    namespace: target.namespace,
    labelSelector: target.labelSelector,
    fieldSelector: target.names.length === 1 ? `metadata.name=${target.names[0]}` : target.fieldSelector,
  };
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

  try {
    // A named object that does not exist is an error, not an empty watch.
    if (target.names.length === 1) await client.get(target.kind, target.names[0]!, { namespace: target.namespace });
    while (!stop.signal.aborted) {
      const list = await client.listAll(target.kind, { ...selectors, signal: stop.signal });
      print(list.items);
      try {
        const events = client.watch(target.kind, { ...selectors, resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true }, stop.signal);
        for await (const event of events) if (event.type !== 'BOOKMARK') print([event.object]);
      } catch (err) {
        // Too far behind to resume (410): list again and carry on, as a person watching expects.
        if (!(err instanceof ApiError && err.code === 410)) throw err;
      }
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
