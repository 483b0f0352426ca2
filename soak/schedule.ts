/**
 * The fault schedule: a pure function of the seed and the run's shape, so `--seed N` with the same
 * --duration and topology replays exactly the same faults at the same offsets (the workload is
 * seeded too, but what it does also depends on what the cluster answers).
 *
 * Kinds, and what each does to its target:
 *
 *   kill-restart         kill -9 of any process (etcd member, apiserver, controller-manager,
 *                        agent), started again (same data, ports, flags) after a short while
 *   etcd-member-down     kill -9 of an etcd member, started again only after 15–40 s
 *   agent-freeze         SIGSTOP of an agent, SIGCONT after 2–14 s: shorter and longer than
 *                        lease + fence (8 s), so some freezes end in fencing and a move
 *   partition-link       the agent's host-side veth down (the host loses the network)
 *   partition-nftables   nftables in the agent's namespace drop its traffic with the apiservers
 *
 * Faults overlap (arrivals are a Poisson process, mean gap --fault-gap), within limits that
 * keep the cluster able to converge — a soak that breaks the cluster beyond repair finds nothing:
 *
 *   - one fault at a time per process (a host's partition counts as its agent's);
 *   - at most one etcd member down: the other two keep the quorum;
 *   - at most one apiserver down: agents and controllers always have one to fail over to;
 *   - at most one controller-manager down: the other takes over (leader election);
 *   - at most two of the three agents impaired (killed, frozen or partitioned): there is
 *     always a node left for the VMs of a lost one.
 *
 * A target's limit counts its faults until RECOVERY_MARGIN_MS after they end (a restart takes a
 * few seconds); the runner also waits, at injection, for a late recovery before it exceeds one.
 * Every kind is placed at least once first (at a random time and target), so even a short run
 * covers them all, then the Poisson arrivals fill the window.
 */
import type { ProcessRole } from './managed-process.js';
import { stream, type Random } from './random.js';

export const FAULT_KINDS = ['kill-restart', 'etcd-member-down', 'agent-freeze', 'partition-link', 'partition-nftables'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultTarget {
  /** The ManagedProcess's name (`agent-soak-n1`, `etcd-m0`, ...). */
  name: string;
  role: ProcessRole;
}

export interface PlannedFault {
  id: number;
  kind: FaultKind;
  target: string;
  role: ProcessRole;
  /** Offsets from the start of the chaos phase. */
  startMs: number;
  endMs: number;
}

export interface ScheduleOptions {
  seed: number;
  /** Faults start at or after this offset, and end by windowEndMs. */
  windowStartMs: number;
  windowEndMs: number;
  /** Mean time between fault arrivals. */
  meanGapMs: number;
  targets: FaultTarget[];
}

interface KindRule {
  roles: ProcessRole[];
  /** How long the fault lasts: [min, max] ms (for kill-restart: how long the process stays down). */
  durationMs: [number, number];
  weight: number;
}

const RULES: Record<FaultKind, KindRule> = {
  'kill-restart': { roles: ['etcd', 'apiserver', 'controller-manager', 'agent'], durationMs: [500, 6_000], weight: 4 },
  'etcd-member-down': { roles: ['etcd'], durationMs: [15_000, 40_000], weight: 1 },
  'agent-freeze': { roles: ['agent'], durationMs: [2_000, 14_000], weight: 1.5 },
  'partition-link': { roles: ['agent'], durationMs: [3_000, 25_000], weight: 1.5 },
  'partition-nftables': { roles: ['agent'], durationMs: [3_000, 25_000], weight: 1.5 },
};

/** At most this many processes of a role impaired at once (see the header). */
export const ROLE_LIMITS: Record<ProcessRole, number> = { etcd: 1, apiserver: 1, 'controller-manager': 1, agent: 2 };
export const RECOVERY_MARGIN_MS = 5_000;

const overlaps = (a: { startMs: number; endMs: number }, b: { startMs: number; endMs: number }) =>
  a.startMs < b.endMs + RECOVERY_MARGIN_MS && b.startMs < a.endMs + RECOVERY_MARGIN_MS;

/** Whether `f` can join `planned` within the limits: its target free, its role under its limit, all the way through. */
export function fits(f: Omit<PlannedFault, 'id'>, planned: readonly Omit<PlannedFault, 'id'>[]): boolean {
  const during = planned.filter((p) => overlaps(p, f));
  if (during.some((p) => p.target === f.target)) return false;
  // The most faults of the role at any one instant of f: count at each start inside f's span (and at f's start).
  const sameRole = during.filter((p) => p.role === f.role);
  const instants = [f.startMs, ...sameRole.map((p) => p.startMs).filter((t) => t >= f.startMs)];
  const worst = Math.max(0, ...instants.map((t) => sameRole.filter((p) => p.startMs <= t && t < p.endMs + RECOVERY_MARGIN_MS).length));
  return worst + 1 <= ROLE_LIMITS[f.role];
}

function candidate(r: Random, kind: FaultKind, startMs: number, o: ScheduleOptions): Omit<PlannedFault, 'id'>[] {
  const rule = RULES[kind];
  const targets = o.targets.filter((t) => rule.roles.includes(t.role));
  const at = Math.round(startMs);
  const endMs = Math.min(at + Math.round(r.between(rule.durationMs[0], rule.durationMs[1])), o.windowEndMs);
  if (endMs - at < rule.durationMs[0]) return [];
  // Every eligible target, in a random order: the first that fits is taken.
  const order = [...targets];
  for (let i = order.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((t) => ({ kind, target: t.name, role: t.role, startMs: at, endMs }));
}

export function buildSchedule(o: ScheduleOptions): PlannedFault[] {
  const r = stream(o.seed, 'fault-schedule');
  const planned: Omit<PlannedFault, 'id'>[] = [];
  const place = (options: Omit<PlannedFault, 'id'>[]) => {
    const f = options.find((c) => fits(c, planned));
    if (f) planned.push(f);
    return !!f;
  };
  // Coverage first: each kind once, at a random time (a few tries each).
  for (const kind of FAULT_KINDS) {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (place(candidate(r, kind, r.between(o.windowStartMs, o.windowEndMs - RULES[kind].durationMs[0]), o))) break;
    }
  }
  // Then Poisson arrivals over the whole window.
  const weights = Object.fromEntries(FAULT_KINDS.map((k) => [k, RULES[k].weight])) as Record<FaultKind, number>;
  for (let t = o.windowStartMs + r.exponential(o.meanGapMs); t < o.windowEndMs; t += r.exponential(o.meanGapMs)) place(candidate(r, r.weighted(weights), t, o));
  return planned.sort((a, b) => a.startMs - b.startMs || a.target.localeCompare(b.target)).map((f, i) => ({ id: i + 1, ...f }));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The schedule as printed before the run, one fault a line. */
export function formatSchedule(schedule: readonly PlannedFault[]): string {
  return schedule
    .map((f) => `  #${String(f.id).padStart(3, '0')}  +${seconds(f.startMs).padStart(7)} → +${seconds(f.endMs).padStart(7)}  ${f.kind.padEnd(19)} ${f.target}`)
    .join('\n');
}
