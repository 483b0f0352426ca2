/**
 * What the VM page's buttons send: the requests shoalctl makes for the same commands, so a VM
 * changed from the console is in the state the CLI would have left it in.
 *  - start, stop, restart: the merge patch planPower computes (packages/api/src/vm-power-plan.ts),
 *    guarded by the resourceVersion it was planned from and planned again after a 409 Conflict,
 *    as shoalctl's vm/power-state.ts does;
 *  - migrate: a Migration named after the VM by the server (generateName), as `shoalctl migrate`;
 *  - delete: a DELETE; the VM goes once its finalizers let it (the page watches it go).
 * The server authorizes each request as the signed-in user: a refusal reaches the user as the
 * server's message.
 */
import { planPower, type Migration, type MigrationMode, type PowerAction, type VirtualMachine } from '@shoal/api/browser';
import { ApiRequestError, type ApiClient } from '../api/api-client.js';
import { resourcePath } from '../api/paths.js';

/** Writers racing on one VM settle quickly; past this many conflicts something is wrong. */
const MAX_CONFLICTS = 10;
/** Kubernetes' limit on a generateName prefix, so the generated name stays a DNS label. */
const MAX_PREFIX = 58;

/** Asks for the power change; answers what was done ("stopped", "already stopped"). */
export async function changePower(api: ApiClient, action: PowerAction, namespace: string, name: string): Promise<string> {
  const path = resourcePath({ plural: 'virtualmachines', namespace, name });
  for (let conflicts = 0; ; conflicts++) {
    const vm = await api.json<VirtualMachine>('GET', path);
    const plan = planPower(action, vm, new Date());
    if ('unchanged' in plan) return plan.unchanged;
    try {
      await api.json('PATCH', path, { body: plan.patch, contentType: 'application/merge-patch+json' });
      return plan.done;
    } catch (err) {
      if (err instanceof ApiRequestError && err.code === 409 && conflicts < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}

export interface MigrateOptions {
  /** A node to move to; the migration controller picks one when absent. */
  targetNode?: string;
  mode: MigrationMode;
}

export function migrationManifest(vmName: string, opts: MigrateOptions) {
  const prefix = `${vmName.slice(0, MAX_PREFIX - 1).replace(/[.-]+$/, '')}-`;
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Migration',
    metadata: { generateName: prefix },
    spec: { vmName, mode: opts.mode, ...(opts.targetNode ? { targetNode: opts.targetNode } : {}) },
  };
}

export function migrateVm(api: ApiClient, namespace: string, vmName: string, opts: MigrateOptions): Promise<Migration> {
  return api.json<Migration>('POST', resourcePath({ plural: 'migrations', namespace }), { body: migrationManifest(vmName, opts) });
}

export async function deleteVm(api: ApiClient, namespace: string, name: string): Promise<void> {
  await api.json('DELETE', resourcePath({ plural: 'virtualmachines', namespace, name }));
}
