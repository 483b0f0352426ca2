/**
 * Where to connect and how, from flags, the environment and the config file. Precedence is the
 * DESIGN.md contract: flags win over $SHOAL_SERVER, which wins over the file, which wins over
 * the default.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseServers } from '@shoal/client';
import { UsageError } from './cli-errors.js';
import type { ConfigFile } from './config-file.js';
import type { GlobalArgs } from './global-options.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:6443';

export interface ConnectionSettings {
  /** One URL or several, comma-separated. */
  server: string;
  certificateAuthority?: string;
  token?: string;
  insecureSkipTLSVerify: boolean;
  namespace: string;
}

export function configPath(flags: Pick<GlobalArgs, 'config'>, env: NodeJS.ProcessEnv): { path: string; explicit: boolean } {
  if (flags.config) return { path: flags.config, explicit: true };
  if (env.SHOAL_CONFIG) return { path: env.SHOAL_CONFIG, explicit: true };
  return { path: join(homedir(), '.shoal', 'config.yaml'), explicit: false };
}

export function resolveSettings(flags: GlobalArgs, env: NodeJS.ProcessEnv, file: ConfigFile): ConnectionSettings {
  const server = flags.server || env.SHOAL_SERVER || file.server || DEFAULT_SERVER;
  try {
    parseServers(server);
  } catch {
    throw new UsageError(`--server must be an http:// or https:// URL, or several separated by commas, got "${server}"`);
  }
  return {
    server,
    certificateAuthority: flags.certificateAuthority ?? file.certificateAuthority,
    token: flags.token ?? file.token,
    insecureSkipTLSVerify: flags.insecureSkipTlsVerify ?? file.insecureSkipTLSVerify ?? false,
    namespace: flags.namespace || file.namespace || 'default',
  };
}

/** Settings for this process: its flags, its environment, its config file. */
export async function settingsFor(flags: GlobalArgs, env: NodeJS.ProcessEnv = process.env): Promise<ConnectionSettings> {
  const { path, explicit } = configPath(flags, env);
  // Without a default file there is no YAML to parse: the parser's import is a good part of a short command's start.
  const file = !explicit && !existsSync(path) ? {} : (await import('./config-file.js')).loadConfigFile(path, explicit);
  return resolveSettings(flags, env, file);
}
