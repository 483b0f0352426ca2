/** `get`: the server's Table for people, the objects themselves for -o yaml/json/name/jsonpath. */
import { ApiError, type KubeObject } from '@shoal/api';
import { isTable, resolveKind, type ShoalClient, type Table } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { formatColumns } from '../../output/columns.js';
import { objectTable } from '../../output/object-table.js';
import { isTableOutput, parseOutputFormat, type OutputFormat } from '../../output/output-format.js';
import { tableView } from '../../output/table-view.js';
import { serverErrorLine } from '../../report-error.js';
import type { GetArgs, GetTarget } from './args.js';

export async function get(args: GetArgs): Promise<void> {
  const kind = resolveKind(args.kind);
  if (args.names.length > 0 && args.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
  if (args.names.length > 0 && (args.selector || args.fieldSelector)) throw new UsageError('names and selectors cannot be combined');
  if (args.watch && args.names.length > 1) throw new UsageError('watch is only supported on a single object or on a list');
  const output = parseOutputFormat(args.output);
  const { client, settings } = await connect(args);
  const target: GetTarget = {
    kind,
    namespace: kind.namespaced && !args.allNamespaces ? settings.namespace : undefined,
    names: args.names,
    labelSelector: args.selector,
    fieldSelector: args.fieldSelector,
  };
  try {
    if (args.watch) {
      const { watchGet } = await import('./watch-get.js');
      return await watchGet(client, target, args, output);
    }
    const missing = isTableOutput(output) ? await printTable(client, target, args) : await printObjects(client, target, args, output);
    if (missing > 0) throw new ExitError(1);
  } finally {
    await client.close();
  }
}

/** Prints the table; answers how many named objects were missing (already reported). */
async function printTable(client: ShoalClient, target: GetTarget, args: GetArgs): Promise<number> {
  const { found: tables, missing } = target.names.length
    ? await eachName(target, (name) => namedTable(client, target, name))
    : { found: [await listTable(client, target)], missing: 0 };
  const rows = tables.flatMap((t) => t.rows);
  if (rows.length === 0) {
    if (missing === 0) process.stderr.write(`${noResources(target)}\n`);
    return missing;
  }
  const view = tableView(
    { ...tables[0]!, rows },
    { wide: args.output === 'wide', withNamespace: args.allNamespaces && target.kind.namespaced, showLabels: args.showLabels },
  );
  process.stdout.write(formatColumns(args.headers ? [view.header, ...view.rows] : view.rows));
  return missing;
}

async function printObjects(client: ShoalClient, target: GetTarget, args: GetArgs, format: Exclude<OutputFormat, 'table' | 'wide'>): Promise<number> {
  // Loaded here: it brings the YAML library, which the table (the common case) does not need.
  const { formatObjects } = await import('../../output/print-objects.js');
  if (target.names.length === 0) {
    const list = await client.listAll(target.kind, { namespace: target.namespace, labelSelector: target.labelSelector, fieldSelector: target.fieldSelector });
    if (list.items.length === 0 && format === 'name') process.stderr.write(`${noResources(target)}\n`);
    process.stdout.write(formatObjects(target.kind, list.items, format, false, { showManagedFields: args.showManagedFields }));
    return 0;
  }
  const { found: objects, missing } = await eachName(target, (name) => client.get(target.kind, name, { namespace: target.namespace }));
  if (objects.length > 0)
    process.stdout.write(formatObjects(target.kind, objects, format, target.names.length === 1, { showManagedFields: args.showManagedFields }));
  return missing;
}

/** Fetches each name; a NotFound is reported on stderr and counted, any other error ends the command. */
async function eachName<T>(target: GetTarget, fetch: (name: string) => Promise<T>): Promise<{ found: T[]; missing: number }> {
  const found: T[] = [];
  let missing = 0;
  for (const name of target.names) {
    try {
      found.push(await fetch(name));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      missing++;
      process.stderr.write(`${serverErrorLine(err)}\n`);
    }
  }
  return { found, missing };
}

async function listTable(client: ShoalClient, target: GetTarget): Promise<Table> {
  const query = { namespace: target.namespace, labelSelector: target.labelSelector, fieldSelector: target.fieldSelector };
  const table: unknown = await client.table(target.kind, query);
  if (isTable(table)) return table;
  // A server that ignores the Table Accept header answers the plain list: render it here.
  const items = (table as { items?: KubeObject[] }).items ?? (await client.listAll(target.kind, query)).items;
  return objectTable(target.kind, items);
}

async function namedTable(client: ShoalClient, target: GetTarget, name: string): Promise<Table> {
  const table: unknown = await client.table(target.kind, { namespace: target.namespace, name });
  return isTable(table) ? table : objectTable(target.kind, [table as KubeObject]);
}

function noResources(target: GetTarget): string {
  return target.namespace ? `No resources found in ${target.namespace} namespace.` : 'No resources found';
}
