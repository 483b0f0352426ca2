/**
 * `delete`: one DELETE per object, a line each as it is accepted, then (with --wait) one wait
 * for all of them, because an object with finalizers only goes away once its controllers let go.
 */
import { ApiError, type KubeObject } from '@shoal/api';
import { kindOfManifest, resolveKind, type ShoalClient } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { durationFlag } from '../../duration-flag.js';
import type { GlobalArgs } from '../../global-options.js';
import { manifestNamespace } from '../../manifests/manifest-namespace.js';
import { readManifests } from '../../manifests/read-manifests.js';
import { quotedName } from '../../output/resource-names.js';
import { serverErrorLine } from '../../report-error.js';
import { waitUntilGone, type DeleteTarget } from './wait-until-gone.js';

export interface DeleteArgs extends GlobalArgs {
  kind?: string;
  names: string[];
  filename?: string[];
  selector?: string;
  wait: boolean;
  timeout: string;
  ignoreNotFound: boolean;
}

export async function deleteObjects(args: DeleteArgs): Promise<void> {
  checkUsage(args);
  const timeoutMs = durationFlag('--timeout', args.timeout);
  const { client, settings } = await connect(args);
  try {
    const targets = await findTargets(client, args, settings.namespace);
    if (targets.length === 0) {
      process.stderr.write('No resources found\n');
      return;
    }
    const deleted: { target: DeleteTarget; object: KubeObject }[] = [];
    let failed = 0;
    for (const target of targets) {
      try {
        const object = await client.delete(target.kind, target.name, { namespace: target.namespace });
        process.stdout.write(`${quotedName(target.kind, target.name)} deleted\n`);
        deleted.push({ target, object });
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
        if (!args.ignoreNotFound) {
          failed++;
          process.stderr.write(`${serverErrorLine(err)}\n`);
        }
      }
    }
    if (args.wait && deleted.length > 0) await waitUntilGone(client, deleted, timeoutMs);
    if (failed > 0) throw new ExitError(1);
  } finally {
    await client.close();
  }
}

function checkUsage(args: DeleteArgs): void {
  const byFile = (args.filename?.length ?? 0) > 0;
  if (byFile && (args.kind || args.selector)) throw new UsageError('-f cannot be combined with a kind, names or -l');
  if (byFile) return;
  if (!args.kind) throw new UsageError('give what to delete: KIND NAME..., KIND -l SELECTOR, or -f FILE');
  if (args.selector && args.names.length > 0) throw new UsageError('names and -l cannot be combined');
  if (!args.selector && args.names.length === 0) throw new UsageError(`resource(s) were provided, but no name was specified: give names or -l SELECTOR`);
}

async function findTargets(client: ShoalClient, args: DeleteArgs, namespace: string): Promise<DeleteTarget[]> {
  if (args.filename?.length) {
    const manifests = await readManifests(args.filename);
    return manifests.map(({ source, object }) => {
      const kind = kindOfManifest(object);
      if (!object.metadata.name) throw new Error(`an object in "${source}" has no metadata.name`);
      return { kind, name: object.metadata.name, namespace: manifestNamespace(kind, object, args.namespace, namespace) };
    });
  }
  const kind = resolveKind(args.kind!);
  const ns = kind.namespaced ? namespace : undefined;
  if (args.selector) {
    const list = await client.listAll(kind, { namespace: ns, labelSelector: args.selector });
    return list.items.map((o) => ({ kind, name: o.metadata.name!, namespace: ns }));
  }
  return args.names.map((name) => ({ kind, name, namespace: ns }));
}
