/**
 * The apiserver's files reloaded while it runs (@shoal/controller-runtime's ConfigReloader):
 *
 *   --config           parsed and checked as at start, flags on the command line still winning;
 *                      --log-level takes effect, any other change is logged as needing a restart
 *   --token-auth-file  the new tokens replace the old ones for the next request: a token added
 *                      is accepted, one removed refused (401); a file that cannot be parsed
 *                      leaves the old tokens in force
 */
import type { Logger } from 'pino';
import { applyFlagChanges, ConfigReloader, parseFlagsFile } from '@shoal/controller-runtime/config-reload';
import { parseApiserverFlags, type ApiserverFlags } from './flags.js';
import { parseTokenFile, type TokenAuthenticator } from './auth/token-file.js';
import type { UserInfo } from './auth/user.js';

export interface ApiserverConfigOptions {
  /** The command line, parsed again with the file's new text: its flags win as they did at start. */
  args: string[];
  path: string;
  initial: { config: ApiserverFlags; text: string };
  log: Logger;
}

export async function watchApiserverConfig(o: ApiserverConfigOptions): Promise<ConfigReloader<ApiserverFlags>> {
  const where = { source: 'config', path: o.path, log: o.log };
  const reloader = new ConfigReloader<ApiserverFlags>({
    ...where,
    initial: o.initial,
    load: (text) => parseApiserverFlags(o.args, (path) => parseFlagsFile(text, path)),
    apply: applyFlagChanges<ApiserverFlags>({
      ...where,
      live: {
        'log-level': (next) => {
          o.log.level = next['log-level'];
        },
      },
    }),
  });
  await reloader.start();
  return reloader;
}

export interface TokenFileOptions {
  path: string;
  initial: { tokens: Map<string, UserInfo>; text: string };
  /** The authenticator the server asks, given the new tokens in place. */
  authenticator: TokenAuthenticator;
  log: Logger;
}

export async function watchTokenFile(o: TokenFileOptions): Promise<ConfigReloader<Map<string, UserInfo>>> {
  const reloader = new ConfigReloader<Map<string, UserInfo>>({
    source: 'token-auth-file',
    path: o.path,
    log: o.log,
    initial: { config: o.initial.tokens, text: o.initial.text },
    load: (text) => parseTokenFile(text, o.path),
    apply: (next, current) => {
      o.authenticator.replace(next);
      const added = [...next.keys()].filter((t) => !current.has(t)).length;
      const removed = [...current.keys()].filter((t) => !next.has(t)).length;
      // Counts and users only: a token is a secret, never logged.
      o.log.info({ file: o.path, tokens: next.size, added, removed }, 'token file reloaded');
      return next;
    },
  });
  await reloader.start();
  return reloader;
}
