/**
 * Applies each manifest in turn. One bad object does not stop the others — like kubectl, every
 * object gets its own line (created/configured/unchanged or an error), and the exit code says
 * whether all of them made it.
 *
 * Client-side (the default) computes a three-way merge here, as `kubectl apply` does;
 * `--server-side` sends each manifest whole and lets the server merge it and track who owns each
 * field (`kubectl apply --server-side`), so a conflict with another manager is reported with the
 * fields and their owners and what to do about it.
 */
import { ApiError } from '@shoal/api';
import { applyManifest, kindOfManifest, ManifestError, serverSideApply, UnknownKindError, type Applied } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { manifestNamespace, NamespaceMismatchError } from '../../manifests/manifest-namespace.js';
import { readManifests } from '../../manifests/read-manifests.js';
import { slashName } from '../../output/resource-names.js';
import { serverErrorLine } from '../../report-error.js';

export interface ApplyArgs extends GlobalArgs {
  filename: string[];
  serverSide?: boolean;
  forceConflicts?: boolean;
  fieldManager?: string;
}

/** The manager shoalctl's applies are owned by, unless --field-manager names another. */
export const DEFAULT_FIELD_MANAGER = 'shoalctl';

const CONFLICT_HINT = [
  'These fields belong to other managers. Either:',
  '  * re-run with --force-conflicts to take them over;',
  '  * leave them out of the manifest, so that their managers keep them;',
  '  * or set them to the values they have now, to share them with their managers.',
].join('\n');

export async function apply(args: ApplyArgs): Promise<void> {
  if (args.forceConflicts && !args.serverSide) throw new UsageError('--force-conflicts only works with --server-side');
  if (args.fieldManager !== undefined && args.fieldManager.trim() === '') throw new UsageError('--field-manager needs a name');
  const manifests = await readManifests(args.filename);
  if (manifests.length === 0) throw new Error(`no objects passed to apply (read ${args.filename.join(', ')})`);
  const { client, settings } = await connect(args);
  let failed = 0;
  let conflicts = 0;
  try {
    for (const { source, object } of manifests) {
      try {
        const namespace = manifestNamespace(kindOfManifest(object), object, args.namespace, settings.namespace);
        const applied: Applied = args.serverSide
          ? await serverSideApply(client, object, {
              namespace,
              fieldManager: args.fieldManager ?? DEFAULT_FIELD_MANAGER,
              force: args.forceConflicts,
              fieldValidation: 'Strict',
            })
          : await applyManifest(client, object, { namespace, fieldValidation: 'Strict', fieldManager: args.fieldManager });
        process.stdout.write(`${slashName(applied.kind, object.metadata.name!)} ${applied.result}\n`);
      } catch (err) {
        failed++;
        if (err instanceof ApiError) {
          process.stderr.write(`${serverErrorLine(err, `error when applying "${source}"`)}\n`);
          if (args.serverSide && err.code === 409 && err.details?.causes?.some((c) => c.type === 'FieldManagerConflict')) conflicts++;
        } else if (err instanceof ManifestError || err instanceof UnknownKindError || err instanceof NamespaceMismatchError)
          process.stderr.write(`error: unable to apply "${source}": ${err.message}\n`);
        else throw err;
      }
    }
  } finally {
    await client.close();
  }
  if (conflicts > 0) process.stderr.write(`${CONFLICT_HINT}\n`);
  if (failed > 0) throw new ExitError(1);
}
