/**
 * The flags node itself runs a Shoal command with. V8 sizes its heap when it starts, so what a
 * component needs of it cannot be set from inside the component: whatever starts one (`shoal up`,
 * @shoal/testing) gives these to node before the script, and bin/<command>.js carries the same on
 * its `#!/usr/bin/env -S node …` line for when it is run directly (node-options.test.ts checks
 * that they agree).
 */
export const NODE_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  // The scheduler's decisions take tens of microseconds, and a scavenge that starts inside one
  // adds its whole pause to it. The informers keep most of what they parse, so a scavenge costs
  // about what survives it, not the young generation's size: with four times V8's default
  // semi-space (16 MiB) a scale run's controller-manager paused 28 times instead of 75, for
  // 15 ms on average instead of 8 and 0.42 s in all instead of 0.61; fewer decisions are caught.
  'shoal-controller-manager': ['--max-semi-space-size=64'],
};

/** What node runs `command` (`shoal-apiserver`, `shoal-controller-manager`, …) with; none for most. */
export function nodeOptionsOf(command: string): readonly string[] {
  return NODE_OPTIONS[command] ?? [];
}
