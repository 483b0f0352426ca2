/**
 * The settings and environment controllers are built from, apart from controllers.ts (the list
 * of controllers): every controller reads these, so none imports that list back.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ShoalClient } from '@shoal/client';
import type { EventRecorder, InformerFactory } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GitCache } from './gitops/git/index.js';

/**
 * Tunables from the command line that controllers read. One object per process, changed in
 * place when the config file is reloaded (live-config.ts): controllers read it at each use,
 * never copy it.
 */
export interface ControllerSettings {
  /** A preemption victim's priority must be at least this much below the preemptor's (Nomad's gap). */
  preemptionMinPriorityGap: number;
  /** A node is NotReady once its lease is this old; 0 means the lease's own duration. */
  nodeMonitorGracePeriodSeconds: number;
  /** The shortest a migration's transfer may take before it is abandoned, whatever the VM's size (the Migration schema's 60 s). */
  migrationMinCompletionTimeoutSeconds: number;
  /** How long a migration's target may take to get ready, and then its source to start the transfer. */
  migrationTargetReadyTimeoutSeconds: number;
  /**
   * Where the gitops controllers keep what they fetch (--gitops-cache-dir): one directory per
   * GitRepository. Read once, when the git cache is made; absent: defaultGitopsCacheDir().
   */
  gitopsCacheDir?: string;
}

/**
 * The git cache's place when no flag names one: the system's cache directory for root (a
 * service), the user's own otherwise. Nothing is written there until a GitRepository is fetched.
 */
export function defaultGitopsCacheDir(): string {
  if (process.getuid?.() === 0) return '/var/cache/shoal/gitops';
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'shoal', 'gitops');
}

/** The git cache's directory these settings name. */
export const gitopsCacheDir = (settings: ControllerSettings): string => settings.gitopsCacheDir ?? defaultGitopsCacheDir();

export const DEFAULT_SETTINGS: ControllerSettings = {
  preemptionMinPriorityGap: 10,
  nodeMonitorGracePeriodSeconds: 0,
  migrationMinCompletionTimeoutSeconds: 60,
  migrationTargetReadyTimeoutSeconds: 60,
};

/**
 * What every controller is built from: its client (the process's, or its own with
 * --controller-tokens-dir), informers shared with the controllers using the same client, one
 * metrics registry.
 */
export interface ControllerEnv {
  client: ShoalClient;
  informers: InformerFactory;
  registry: Registry;
  log: Logger;
  settings: ControllerSettings;
  /** The event recorder for a reporting component (`shoal-scheduler`), writing with this env's client. */
  recorder(component: string): EventRecorder;
  /**
   * The process's one git cache (gitops/git/), made on first use in gitopsCacheDir(settings):
   * the gitrepository controller fetches into it and the gitsync controller checks out of it,
   * so both share its per-repository lock and what it holds.
   */
  gitCache(): GitCache;
}
