/** `api-resources` from the kinds in schemas/ — the same list the server is built from, so it works offline. */
import { kinds } from '@shoal/api';
import type { GlobalArgs } from '../../global-options.js';
import { formatColumns } from '../../output/columns.js';

export interface ApiResourcesArgs extends GlobalArgs {
  output?: 'name' | 'wide';
  headers: boolean;
}

export async function apiResources(args: ApiResourcesArgs): Promise<void> {
  const all = [...kinds().all].sort((a, b) => a.plural.localeCompare(b.plural));
  if (args.output === 'name') {
    process.stdout.write(all.map((k) => `${k.plural}.${k.group}\n`).join(''));
    return;
  }
  const wide = args.output === 'wide';
  const header = ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', ...(wide ? ['CATEGORIES'] : [])];
  const rows = all.map((k) => [k.plural, k.shortNames.join(','), k.apiVersion, String(k.namespaced), k.kind, ...(wide ? [k.categories.join(',')] : [])]);
  process.stdout.write(formatColumns(args.headers ? [header, ...rows] : rows));
}
