import type { GlobalArgs } from '../../global-options.js';

export const TOP_SORT_KEYS = ['cpu', 'memory'] as const;
export type TopSortKey = (typeof TOP_SORT_KEYS)[number];

export interface TopArgs extends GlobalArgs {
  name?: string;
  selector?: string;
  sortBy?: TopSortKey;
  headers: boolean;
}

export interface TopVmsArgs extends TopArgs {
  allNamespaces: boolean;
}

export type TopNodesArgs = TopArgs;
