/**
 * Failure domains. A topologyKey is a node label (`topology.shoal.dev/zone`); the nodes sharing
 * its value form one domain. `shoal.dev/hostname` always names the node itself — agents set it,
 * and a node registered without it still is its own domain.
 */
import { HOSTNAME_LABEL, type Node } from '@shoal/api';

/** The node's domain for `topologyKey`, or undefined when the node has no such label. */
export function domainOf(node: Node, topologyKey: string): string | undefined {
  const value = node.metadata.labels?.[topologyKey];
  if (value !== undefined) return value;
  return topologyKey === HOSTNAME_LABEL ? node.metadata.name : undefined;
}
