/**
 * Applies each manifest in turn. One bad object does not stop the others — like kubectl, every
 * object gets its own line (created/configured/unchanged or an error), and the exit code says
 * whether all of them made it.
 */
import { ApiError } from '@shoal/api';
import { applyManifest, kindOfManifest, ManifestError, UnknownKindError } from '@shoal/client';
import { ExitError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import type { GlobalArgs } from '../../global-options.js';
import { manifestNamespace, NamespaceMismatchError } from '../../manifests/manifest-namespace.js';
import { readManifests } from '../../manifests/read-manifests.js';
import { slashName } from '../../output/resource-names.js';
import { serverErrorLine } from '../../report-error.js';

export interface ApplyArgs extends GlobalArgs {
  filename: string[];
}

export async function apply(args: ApplyArgs): Promise<void> {
  const manifests = await readManifests(args.filename);
  if (manifests.length === 0) throw new Error(`no objects passed to apply (read ${args.filename.join(', ')})`);
  const { client, settings } = connect(args);
  let failed = 0;
  try {
    for (const { source, object } of manifests) {
      try {
        const namespace = manifestNamespace(kindOfManifest(object), object, args.namespace, settings.namespace);
        const applied = await applyManifest(client, object, { namespace, fieldValidation: 'Strict' });
        process.stdout.write(`${slashName(applied.kind, object.metadata.name!)} ${applied.result}\n`);
      } catch (err) {
        failed++;
        if (err instanceof ApiError) process.stderr.write(`${serverErrorLine(err, `error when applying "${source}"`)}\n`);
        else if (err instanceof ManifestError || err instanceof UnknownKindError || err instanceof NamespaceMismatchError)
          process.stderr.write(`error: unable to apply "${source}": ${err.message}\n`);
        else throw err;
      }
    }
  } finally {
    await client.close();
  }
  if (failed > 0) throw new ExitError(1);
}
