/**
 * `gitops diff SYNC`: what the next pass of a GitSync would change, as `kubectl diff` shows it — a
 * unified diff (diff -u) per object between the live object and the one a dry-run server-side
 * apply would store, then the objects prune would delete. Problems of the commit (a file, object
 * or field) are listed instead, as the sync would report them. Exit 0: no difference; 1: there
 * are differences; 2 and up: it could not tell.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, GITOPS_FIELD_MANAGER, type GitRepository, type GitSync, type KubeObject } from '@shoal/api';
import { objectId, planSync, readRepositoryManifests, serverSideApply, type PlannedObject, type ShoalClient } from '@shoal/client';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { ExitError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { checkoutRevision } from '../../gitops/revision-checkout.js';

export interface GitopsDiffArgs extends GlobalArgs {
  sync: string;
  path?: string;
}

/** What the server sets and a manifest never does: left out of both sides. */
function comparable(object: KubeObject | undefined): string {
  if (!object) return '';
  const { managedFields: _m, resourceVersion: _r, generation: _g, uid: _u, creationTimestamp: _c, ...metadata } = object.metadata;
  const { status: _s, ...rest } = object as KubeObject & { status?: unknown };
  return stringify({ ...rest, metadata });
}

async function live(client: ShoalClient, o: PlannedObject): Promise<KubeObject | undefined> {
  try {
    return await client.get(o.kind, o.object.metadata.name!, { namespace: o.object.metadata.namespace });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

async function unifiedDiff(dir: string, label: string, before: string, after: string): Promise<string> {
  const [a, b] = [join(dir, 'live.yaml'), join(dir, 'merged.yaml')];
  await Promise.all([writeFile(a, before), writeFile(b, after)]);
  const out = await execa('diff', ['-u', '--label', `live/${label}`, '--label', `merged/${label}`, a, b], { reject: false });
  if (out.exitCode !== 0 && out.exitCode !== 1) throw new Error(`diff failed: ${out.stderr}`);
  return out.stdout;
}

export async function gitopsDiff(args: GitopsDiffArgs): Promise<void> {
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  const work = await mkdtemp(join(tmpdir(), 'shoalctl-diff-'));
  let checkout: Awaited<ReturnType<typeof checkoutRevision>> | undefined;
  try {
    const sync = await client.get<GitSync>('gitsync', args.sync, { namespace });
    if (!args.path) checkout = await checkoutRevision(await client.get<GitRepository>('gitrepository', sync.spec.sourceRef.name, { namespace }));
    const read = await readRepositoryManifests(args.path ?? checkout!.dir, args.path ? '.' : (sync.spec.path ?? './'));
    const plan = planSync(read.manifests, { namespace: sync.metadata.namespace!, name: sync.metadata.name!, targetNamespace: sync.spec.targetNamespace });
    const problems = [...read.problems, ...plan.problems];
    if (problems.length > 0) {
      for (const p of problems)
        process.stderr.write(`error: ${[p.file, p.kind && `${p.kind} ${p.name ?? ''}`.trim(), p.field].filter(Boolean).join(': ')}: ${p.message}\n`);
      throw new ExitError(2);
    }
    let differences = 0;
    for (const o of plan.objects) {
      const label = `${o.kind.kind.toLowerCase()}/${o.object.metadata.namespace ? `${o.object.metadata.namespace}/` : ''}${o.object.metadata.name}`;
      const before = comparable(await live(client, o));
      let after: string;
      try {
        after = comparable((await serverSideApply(client, o.object, { fieldManager: GITOPS_FIELD_MANAGER, force: true, dryRun: true })).object);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        process.stderr.write(`error: ${o.file}: ${label}: ${err.message}\n`);
        throw new ExitError(2);
      }
      if (before === after) continue;
      differences++;
      process.stdout.write(`${await unifiedDiff(work, label, before, after)}\n`);
    }
    if (sync.spec.prune !== false) {
      const current = new Set(plan.objects.map((o) => o.id));
      for (const e of sync.status?.inventory ?? []) {
        if (current.has(objectId(e.kind, e.namespace, e.name))) continue;
        differences++;
        process.stdout.write(`pruned: ${e.kind.toLowerCase()}/${e.namespace ? `${e.namespace}/` : ''}${e.name} (no longer in the repository)\n`);
      }
    }
    if (differences > 0) throw new ExitError(1);
  } finally {
    await Promise.all([rm(work, { recursive: true, force: true }), checkout?.remove(), client.close()]);
  }
}
