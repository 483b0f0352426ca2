/** `start`: see planPower (packages/api/src/vm-power-plan.ts) for what it writes and why. */
import { changePowerState, type PowerArgs } from '../../vm/power-state.js';

export function start(args: PowerArgs): Promise<void> {
  return changePowerState('start', args);
}
