/**
 * Hot reload of a file a process was started with — its --config, the apiserver's
 * --token-auth-file — the way Prometheus and Alertmanager reload theirs: the whole file is read
 * and checked again, and only a valid one is put in force; an invalid one leaves the config in
 * force as it was, and says why in a warn log line and in metrics:
 *
 *   shoal_config_reload_total{source,result}                        success | failure
 *   shoal_config_last_reload_successful{source}                     1, or 0 after a failure
 *   shoal_config_last_reload_success_timestamp_seconds{source}
 *   shoal_config_hash{source}                                       the first 48 bits of the sha256 of the file in force
 *
 * `source` names the file by the flag that gave it (`config`, `token-auth-file`).
 *
 * The file's directory is watched, not the file: editors and tools that save by writing a new
 * file and renaming it over the old one (vim, `kubectl cp`, atomic writers) give it a new inode,
 * which a watch on the old one would never report. A file that goes missing is waited for
 * (`missingGraceMs`) before that counts as a failure, since such saves remove it for an instant.
 * Kubernetes mounts ConfigMaps and Secrets through a `..data` symlink that it swaps: entries of
 * the directory whose names start with `..` are watched too, and any event is followed by a
 * read, so such a swap is seen although the file's own name never changes.
 *
 * A file whose content is what is in force already (a touch, the swap of an unrelated entry) is
 * not reloaded again; one still invalid is checked and counted again on every change.
 *
 * Events are hints, not a record: chokidar drops a second removal of a path within 100 ms of
 * the first, for one. So the file is also looked at every `checkIntervalMs`, and reloaded when
 * it differs from what the last look saw (as Prometheus' auto-reload compares checksums).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { once } from 'node:events';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { Counter, Gauge, register as globalRegistry, type Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { perRegistry } from './per-registry.js';

export interface ConfigReloaderOptions<T> {
  /** The file, as the flag gave it (relative paths are the process's working directory's). */
  path: string;
  /** The flag that named the file, without dashes: its name in logs and in the metrics' `source` label. */
  source: string;
  /** What the process put in force at start, and the file's text it came from. */
  initial: { config: T; text: string };
  /** Reads the file's whole text into a config, checked as at start; throws, saying why, when it is not valid. */
  load(text: string): T | Promise<T>;
  /**
   * Puts a valid config in force and answers what is now in force (settings that need a
   * restart keep their old values). Throwing counts as a failure and the old config stays, so
   * whatever can fail comes first.
   */
  apply(next: T, current: T): T | Promise<T>;
  log: Logger;
  /** Default: prom-client's global registry. */
  registry?: Registry;
  /** Events closer together than this are one reload (100 ms): a save is often several writes. */
  debounceMs?: number;
  /** How long a missing file may stay missing before that is a failure (1 s). */
  missingGraceMs?: number;
  /** How often the file is looked at whatever the events say (5 s); 0: never, events only. */
  checkIntervalMs?: number;
}

export type ReloadResult = 'success' | 'failure' | 'unchanged' | 'waiting';

interface ReloadMetrics {
  reloads: Counter<'source' | 'result'>;
  lastSuccessful: Gauge<'source'>;
  lastSuccessTime: Gauge<'source'>;
  hash: Gauge<'source'>;
}

const reloadMetrics = perRegistry((registers): ReloadMetrics => ({
  reloads: new Counter({
    name: 'shoal_config_reload_total',
    help: 'Reloads of a config file after it changed, by result (success, failure).',
    labelNames: ['source', 'result'],
    registers,
  }),
  lastSuccessful: new Gauge({
    name: 'shoal_config_last_reload_successful',
    help: 'Whether the last reload of the config file succeeded (1) or left the previous config in force (0).',
    labelNames: ['source'],
    registers,
  }),
  lastSuccessTime: new Gauge({
    name: 'shoal_config_last_reload_success_timestamp_seconds',
    help: 'When the config in force was loaded, in seconds since the epoch.',
    labelNames: ['source'],
    registers,
  }),
  hash: new Gauge({
    name: 'shoal_config_hash',
    help: 'The first 48 bits of the sha256 of the config file in force, as a number: tells which version a process runs.',
    labelNames: ['source'],
    registers,
  }),
}));

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** 48 bits: the most a gauge's double holds exactly. */
const hashGaugeValue = (hash: string) => parseInt(hash.slice(0, 12), 16);

export class ConfigReloader<T> {
  readonly path: string;
  private inForce: T;
  private inForceHash: string;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private checker?: NodeJS.Timeout;
  /** What the last read found: the content's hash, or the error's code. */
  private lastLook: string;
  private running?: Promise<ReloadResult>;
  private again = false;
  private missingSince?: number;
  private closed = false;
  private readonly metrics: ReloadMetrics;

  constructor(private readonly o: ConfigReloaderOptions<T>) {
    this.path = resolve(o.path);
    this.inForce = o.initial.config;
    this.inForceHash = sha256(o.initial.text);
    this.lastLook = this.inForceHash;
    this.metrics = reloadMetrics(o.registry ?? globalRegistry);
    this.recordSuccess(false);
  }

  /** The config in force. */
  get current(): T {
    return this.inForce;
  }

  /** Watches the file; resolves once the watch is in place and a change made before it (while the process started) is taken. */
  async start(): Promise<void> {
    const dir = dirname(this.path);
    const name = basename(this.path);
    // Only the file and Kubernetes' `..` entries: a file in a busy directory (/tmp) costs no stat of its neighbours.
    const watched = (path: string) => path === dir || basename(path) === name || basename(path).startsWith('..');
    this.watcher = watch(dir, { ignoreInitial: true, depth: 0, ignored: (path) => !watched(path) });
    this.watcher.on('all', () => this.schedule(this.o.debounceMs ?? 100));
    this.watcher.on('error', (err) => this.o.log.warn({ source: this.o.source, file: this.path, err: (err as Error).message }, 'cannot watch the config file'));
    await once(this.watcher, 'ready');
    const every = this.o.checkIntervalMs ?? 5_000;
    if (every > 0) this.checker = setInterval(() => void this.reload(true), every);
    await this.reload();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.checker);
    await this.watcher?.close();
    await this.running;
  }

  /**
   * Reads the file now and puts it in force if it changed and is valid. One at a time: a call
   * meanwhile runs once more after. `sinceLastLook`: only if the file differs from what the last
   * read found (the periodic look: an invalid file is not counted again and again).
   */
  reload(sinceLastLook = false): Promise<ReloadResult> {
    if (this.running) {
      if (!sinceLastLook) this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let result: ReloadResult;
      let onlyIfDifferent = sinceLastLook;
      do {
        this.again = false;
        result = await this.reloadOnce(onlyIfDifferent);
        onlyIfDifferent = false;
      } while (this.again && !this.closed);
      return result;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), delayMs);
  }

  private async reloadOnce(onlyIfDifferent: boolean): Promise<ReloadResult> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const look = `error:${(err as NodeJS.ErrnoException).code}`;
      if (onlyIfDifferent && look === this.lastLook) return 'unchanged';
      this.lastLook = look;
      const grace = this.o.missingGraceMs ?? 1_000;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const now = Date.now();
        this.missingSince ??= now;
        // Replaced by a rename, or being written anew: it is looked at again when the grace is over.
        if (now - this.missingSince < grace) {
          this.schedule(this.missingSince + grace - now);
          return 'waiting';
        }
      }
      return this.fail(`cannot read ${this.path}: ${(err as Error).message}`, false);
    }
    const hash = sha256(text);
    if (onlyIfDifferent && hash === this.lastLook) return 'unchanged';
    this.lastLook = hash;
    this.missingSince = undefined;
    if (hash === this.inForceHash) return 'unchanged';
    let next: T;
    try {
      next = await this.o.load(text);
    } catch (err) {
      return this.fail((err as Error).message, true);
    }
    try {
      this.inForce = await this.o.apply(next, this.inForce);
    } catch (err) {
      return this.fail(`could not be put in force: ${(err as Error).message}`, true);
    }
    this.inForceHash = hash;
    this.recordSuccess(true);
    this.o.log.info({ source: this.o.source, file: this.path }, 'config file reloaded');
    return 'success';
  }

  private recordSuccess(counted: boolean): void {
    const { source } = this.o;
    if (counted) this.metrics.reloads.inc({ source, result: 'success' });
    this.metrics.lastSuccessful.set({ source }, 1);
    this.metrics.lastSuccessTime.set({ source }, Date.now() / 1000);
    this.metrics.hash.set({ source }, hashGaugeValue(this.inForceHash));
  }

  private fail(why: string, invalid: boolean): ReloadResult {
    const { source } = this.o;
    this.metrics.reloads.inc({ source, result: 'failure' });
    this.metrics.lastSuccessful.set({ source }, 0);
    this.o.log.warn(
      { source, file: this.path, err: why },
      invalid ? 'config file is not valid: the config in force stays as it was' : 'config file cannot be read: the config in force stays as it was',
    );
    return 'failure';
  }
}

/**
 * A --config file's text as yargs takes it: YAML (JSON is YAML too) holding a mapping of flag
 * names to values. Anything else is refused here with the file's name, not by yargs as
 * "Invalid JSON config file".
 */
export function parseFlagsFile(text: string, path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new Error(`${path}: not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(
      `${path}: want a mapping of flag names to values (e.g. "log-level: info"), got ${parsed === null ? 'an empty file' : Array.isArray(parsed) ? 'a list' : typeof parsed}`,
    );
  return parsed as Record<string, unknown>;
}

/**
 * The flags whose value differs between two parses of a command line (yargs' argv), by their
 * dashed names: camelCase aliases, positional arguments and --config itself are left out.
 */
export function changedFlags(current: Record<string, unknown>, next: Record<string, unknown>): string[] {
  const names = new Set([...Object.keys(current), ...Object.keys(next)]);
  return [...names].filter(
    (name) => name !== '_' && name !== '$0' && name !== 'config' && !/[A-Z]/.test(name) && JSON.stringify(current[name]) !== JSON.stringify(next[name]),
  );
}

export interface FlagReloadOptions<F> {
  /**
   * The flags that take effect while the process runs, each with how it is put in force, in
   * the order they are applied: one that may fail (a write to the apiserver) before the others.
   */
  live: Record<string, (next: F, current: F) => void | Promise<void>>;
  source: string;
  path: string;
  log: Logger;
}

/**
 * ConfigReloaderOptions.apply for a file of command-line flags: the live flags that changed are
 * put in force; the others that changed are named in a warn line as needing a restart and keep
 * their old value in what is in force, so they are named again at the next reload.
 */
export function applyFlagChanges<F extends Record<string, unknown>>(o: FlagReloadOptions<F>): (next: F, current: F) => Promise<F> {
  return async (next, current) => {
    const changed = changedFlags(current, next);
    const live = Object.keys(o.live).filter((flag) => changed.includes(flag));
    const restart = changed.filter((flag) => !(flag in o.live));
    for (const flag of live) await o.live[flag]!(next, current);
    const where = { source: o.source, file: resolve(o.path) };
    if (restart.length)
      o.log.warn({ ...where, flags: restart.map((f) => `--${f}`) }, 'changed in the config file, but these take effect only at a restart: not applied');
    if (live.length) o.log.info({ ...where, flags: live.map((f) => `--${f}`) }, 'live settings changed');
    const kept: Record<string, unknown> = {};
    for (const flag of restart) kept[flag] = current[flag];
    return { ...next, ...kept };
  };
}
