/** The config file (~/.shoal/config.yaml or --config): read, parsed and checked field by field. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './cli-errors.js';

export interface ConfigFile {
  /** One apiserver URL, or several (comma-separated or a YAML list): the client fails over between them. */
  server?: string;
  /** Relative paths are relative to the config file, as in a kubeconfig. */
  certificateAuthority?: string;
  token?: string;
  insecureSkipTLSVerify?: boolean;
  namespace?: string;
}

const FIELD_TYPES: Record<keyof ConfigFile, 'string' | 'boolean'> = {
  server: 'string',
  certificateAuthority: 'string',
  token: 'string',
  insecureSkipTLSVerify: 'boolean',
  namespace: 'string',
};

/** The parsed file; a missing default file is no config, a missing named file is an error. */
export function loadConfigFile(path: string, explicit: boolean): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): ConfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`config file ${path} must be a YAML mapping`);
  const config: ConfigFile = {};
  for (const [key, value] of Object.entries(doc)) {
    const type = FIELD_TYPES[key as keyof ConfigFile];
    if (!type) throw new UsageError(`config file ${path}: unknown field "${key}" (known: ${Object.keys(FIELD_TYPES).join(', ')})`);
    // Several apiservers read best as a YAML list; they travel on as one comma-separated string.
    if (key === 'server' && Array.isArray(value) && value.length && value.every((v) => typeof v === 'string')) {
      config.server = value.join(',');
      continue;
    }
    if (typeof value !== type) throw new UsageError(`config file ${path}: ${key} must be a ${type}${key === 'server' ? ' or a list of strings' : ''}`);
    (config as Record<string, unknown>)[key] = value;
  }
  if (config.certificateAuthority && !isAbsolute(config.certificateAuthority)) {
    config.certificateAuthority = resolve(dirname(path), config.certificateAuthority);
  }
  return config;
}
