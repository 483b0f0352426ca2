/** Applies examples/ so a new cluster has something to look at. */
import { join } from 'node:path';
import type { KubeObject } from '@shoal/api';
import { applyManifest, type ShoalClient } from '@shoal/client';
import { readManifests } from '../manifests/read-manifests.js';
import { REPO_ROOT } from './local-cluster.js';

/** Applies every manifest under examples/; returns the objects as applied. */
export async function applyExamples(client: ShoalClient, progress: (line: string) => void): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const { object } of await readManifests([join(REPO_ROOT, 'examples')])) {
    const applied = await applyManifest(client, object, { namespace: 'default' });
    progress(`${applied.kind.singular}.${applied.kind.group}/${applied.object.metadata.name} ${applied.result}`);
    out.push(applied.object);
  }
  return out;
}
