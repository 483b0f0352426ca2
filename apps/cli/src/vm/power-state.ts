/**
 * The handler behind `start`, `stop` and `restart`: read the VM, plan the change (planPower, packages/api/src/vm-power-plan.ts),
 * write it as one merge patch guarded by the resourceVersion it was planned from, and plan again
 * from a fresh read when someone else changed the VM in between (409 Conflict).
 */
import { ApiError, planPower, type PowerAction, type VirtualMachine } from '@shoal/api';
import { resolveKind } from '@shoal/client';
import { connect } from '../connect.js';
import type { GlobalArgs } from '../global-options.js';
import { slashName } from '../output/resource-names.js';
import { vmNameFromKindAndName } from './vm-reference.js';

export interface PowerArgs extends GlobalArgs {
  kind: string;
  name?: string;
}

/** Writers racing on one VM settle quickly; past this many conflicts something is wrong. */
const MAX_CONFLICTS = 10;

export async function changePowerState(action: PowerAction, args: PowerArgs): Promise<void> {
  const name = vmNameFromKindAndName(action, args.kind, args.name);
  const kind = resolveKind('VirtualMachine');
  const { client, settings } = await connect(args);
  const namespace = settings.namespace;
  try {
    for (let conflicts = 0; ; conflicts++) {
      const vm = await client.get<VirtualMachine>(kind, name, { namespace });
      const plan = planPower(action, vm, new Date());
      if ('unchanged' in plan) {
        process.stdout.write(`${slashName(kind, name)} ${plan.unchanged}\n`);
        return;
      }
      try {
        await client.patch(kind, name, plan.patch, { namespace, type: 'merge' });
      } catch (err) {
        if (err instanceof ApiError && err.code === 409 && conflicts < MAX_CONFLICTS) continue;
        throw err;
      }
      process.stdout.write(`${slashName(kind, name)} ${plan.done}\n`);
      return;
    }
  } finally {
    await client.close();
  }
}
