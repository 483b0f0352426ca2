/** What a soak run is given: `npm run soak -- --seed N --duration S --vms V ...`, or e2e/soak.test.ts's short variant. */

export interface SoakOptions {
  /** Seeds the fault schedule and the workload: the same seed replays the same schedule. */
  seed: number;
  /** How long faults and the workload run (the chaos phase), in ms. */
  durationMs: number;
  /** How many VM names the workload uses (each exists or not at any time). */
  vms: number;
  /** Memory of each VM (1 vCPU each). */
  memoryMiB: number;
  /** Migrations in the workload (npm run soak: yes). */
  migrations: boolean;
  /** Mean time between fault arrivals. */
  faultGapMs: number;
  /** The workload's gap between operations: [min, max) ms. */
  operationGapMs: [number, number];
  /** Every VM must be in its declared state within this long after the faults stopped. */
  convergenceBoundMs: number;
  /** The VMs created first must all be in their declared state within this long, before the chaos begins. */
  warmupBoundMs: number;
  /** Results file name: soak/results/<name>-<time>.json and <name>-latest.json. */
  resultsName: string;
  /** Write every process's output beside the JSON: always, or only when an invariant failed. */
  keepLogs: 'always' | 'on-failure';
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<SoakOptions, 'seed' | 'log'> = {
  durationMs: 10 * 60_000,
  vms: 6,
  memoryMiB: 96,
  migrations: true,
  faultGapMs: 8_000,
  operationGapMs: [1_000, 3_000],
  convergenceBoundMs: 120_000,
  warmupBoundMs: 180_000,
  resultsName: 'soak',
  keepLogs: 'always',
};
