/**
 * A real Prometheus (Debian's `prometheus`, which deploy/install-deps.sh installs) on a free port
 * with a temporary data dir, for tests that scrape a cluster and look at what its alerts do; and
 * the configuration it runs, derived from deploy/prometheus/prometheus.yml so that what is tested
 * is that file's jobs, schemes and credentials, only pointed at the test's processes:
 *
 *   const base = await readPrometheusConfig();                       // deploy/prometheus/prometheus.yml
 *   const config = localPrometheusConfig(base, {
 *     targets: { 'shoal-apiserver': ['127.0.0.1:41234'], ... },     // every job of the file
 *     files: { 'ca.crt': certs.caFile, 'prometheus.token': tokenFile, ... },  // every file it names
 *     interval: '1s', ruleFiles: ['alerts.yml'],
 *   });
 *   const prometheus = await startPrometheus({ config, files: { 'alerts.yml': rules } });
 *   await prometheus.targets(); await prometheus.alerts();
 *   await prometheus.stop();
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parse, stringify } from 'yaml';
import { freePort } from '@shoal/api';
import { REPO_ROOT } from './process.js';
import { waitFor } from './wait-for.js';

/** deploy/prometheus: the scrape configuration, the alerts and their unit tests, the dashboard. */
export const PROMETHEUS_DEPLOY_DIR = join(REPO_ROOT, 'deploy', 'prometheus');

/** What these helpers read and change of a prometheus.yml; the rest is kept as it is. */
export interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}

export interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  [key: string]: unknown;
}

export async function readPrometheusConfig(path = join(PROMETHEUS_DEPLOY_DIR, 'prometheus.yml')): Promise<PrometheusConfig> {
  return parse(await readFile(path, 'utf8')) as PrometheusConfig;
}

export interface LocalScrapeSettings {
  /** Per job of the base configuration, what to scrape instead; every job must be named, and no other. */
  targets: Record<string, string[]>;
  /** Per file the base configuration names (by its base name: `ca.crt`), the file to use instead; every one must be given. */
  files: Record<string, string>;
  /** scrape_interval and evaluation_interval, short for a test (`1s`). */
  interval: string;
  /** rule_files, as startPrometheus writes them beside the configuration. */
  ruleFiles?: string[];
}

/** The settings of a scrape config that name files (TLS, credentials). */
const FILE_SETTINGS = new Set(['ca_file', 'cert_file', 'key_file', 'credentials_file', 'bearer_token_file', 'password_file']);

/** `value` with every file setting replaced through `files`; a file it has no replacement for is an error. */
function withFiles(value: unknown, files: Record<string, string>, where: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withFiles(v, files, where));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      if (!FILE_SETTINGS.has(key) || typeof v !== 'string') return [key, withFiles(v, files, where)];
      const replacement = files[basename(v)];
      if (!replacement) throw new Error(`${where}: ${key} ${v}: no file given for ${basename(v)}`);
      return [key, replacement];
    }),
  );
}

/** `base` pointed at a test's processes and files, scraped and evaluated every `interval` (see the header). */
export function localPrometheusConfig(base: PrometheusConfig, s: LocalScrapeSettings): PrometheusConfig {
  const jobs = base.scrape_configs.map((j) => j.job_name);
  const unknown = Object.keys(s.targets).filter((j) => !jobs.includes(j));
  if (unknown.length) throw new Error(`targets for jobs the configuration does not have: ${unknown.join(', ')} (it has ${jobs.join(', ')})`);
  return {
    ...base,
    global: { ...base.global, scrape_interval: s.interval, evaluation_interval: s.interval },
    rule_files: s.ruleFiles ?? [],
    scrape_configs: base.scrape_configs.map((job) => {
      const targets = s.targets[job.job_name];
      if (!targets) throw new Error(`no targets given for job ${job.job_name}`);
      return { ...(withFiles(job, s.files, `job ${job.job_name}`) as ScrapeConfig), static_configs: [{ targets }] };
    }),
  };
}

/** A target as /api/v1/targets describes it. */
export interface PrometheusTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

/** An alert as /api/v1/alerts describes it. */
export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface PrometheusProcess {
  url: string;
  pid: number;
  /** The data of a successful answer of the HTTP API (`query?query=up` → GET /api/v1/query?query=up). */
  api<T>(path: string): Promise<T>;
  /** The active targets. */
  targets(): Promise<PrometheusTarget[]>;
  /** The pending and firing alerts. */
  alerts(): Promise<PrometheusAlert[]>;
  /** What it printed so far. */
  output(): string;
  /** SIGTERM, wait for the exit, remove its directory. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  config: PrometheusConfig;
  /** Files written beside the configuration (name → content): the rule files it names. */
  files?: Record<string, string>;
  /** How long it may take to be ready (20 s). */
  timeoutMs?: number;
}

/** Prometheus with `config` on a free port of 127.0.0.1, once ready (it has loaded the configuration and its rules). */
export async function startPrometheus(o: StartPrometheusOptions): Promise<PrometheusProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-prometheus-'));
  for (const [name, content] of Object.entries(o.files ?? {})) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'prometheus.yml'), stringify(o.config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ResultPromise = execa(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { reject: false, all: true, buffer: false, cwd: dir },
  );
  let out = '';
  proc.all?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  let exit: { exitCode?: number; code?: string } | undefined;
  const exited = proc.then((r) => (exit = r as { exitCode?: number; code?: string }));
  const stop = async () => {
    proc.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Ends early when it exits: a bad configuration is said at once, with what it printed.
    await waitFor(async () => exit !== undefined || (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: o.timeoutMs ?? 20_000,
      intervalMs: 100,
      message: `prometheus ready on ${url}`,
      lastSeen: () => out,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  if (exit) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(
      exit.code === 'ENOENT'
        ? 'prometheus is not installed (apt-get install prometheus, or run deploy/install-deps.sh)'
        : `prometheus exited (${exit.exitCode}) before it was ready:\n${out}`,
    );
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus /api/v1/${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    url,
    pid: proc.pid!,
    api,
    targets: async () => (await api<{ activeTargets: PrometheusTarget[] }>('targets?state=active')).activeTargets,
    alerts: async () => (await api<{ alerts: PrometheusAlert[] }>('alerts')).alerts,
    output: () => out,
    stop,
  };
}
