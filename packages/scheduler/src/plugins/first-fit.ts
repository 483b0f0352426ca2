/**
 * FirstFit: every feasible node scores the same, so the framework's tie-break decides: the
 * first node by name. Deterministic, and the simplest policy that is still correct; issue 4's
 * bin-pack and spread scores replace it.
 */
import type { ScorePlugin } from '../framework.js';

export const firstFit: ScorePlugin = {
  name: 'FirstFit',
  score: () => 0,
};
