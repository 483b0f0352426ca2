/**
 * The default guest image: a Debian cloud kernel and a busybox initramfs, built and cached by
 * deploy/guest/build-image.sh (install-deps runs it) under
 * ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/<name>/ as vmlinuz, initrd.cpio.gz and image.json.
 */
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const IMAGE_DIR_ENV = 'SHOAL_IMAGE_DIR';
export const DEFAULT_IMAGE_CACHE_DIR = '/var/cache/shoal/images';
export const DEFAULT_IMAGE_NAME = 'default';
export const BUILD_IMAGE_SCRIPT = fileURLToPath(new URL('../../../../../deploy/guest/build-image.sh', import.meta.url));

export interface GuestImage {
  name: string;
  dir: string;
  /** Absolute paths for -kernel and -initrd. */
  kernel: string;
  initrd: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  /** uname -r inside the guest, e.g. 6.1.0-56-cloud-amd64. */
  kernelRelease: string;
  busyboxVersion: string;
  /** Hash of the build script and the init that built it. */
  recipe: string;
  builtAt: string;
  modules: string[];
  /** sha256 of the kernel and the initramfs (reproducible), when image.json records them. */
  kernelSha256?: string;
  initrdSha256?: string;
  /** "<kernel package version>/<busybox version>/<recipe>": changes whenever the image does. */
  version: string;
}

export class GuestImageMissingError extends Error {
  constructor(
    readonly dir: string,
    why: string,
  ) {
    super(
      `guest image in ${dir} is not usable (${why}): build it with \`bash deploy/guest/build-image.sh\` (or \`npm run setup\`)${dir.startsWith(DEFAULT_IMAGE_CACHE_DIR) ? '' : `, with ${IMAGE_DIR_ENV} set to its parent`}`,
    );
    this.name = 'GuestImageMissingError';
  }
}

/** Where images are cached: $SHOAL_IMAGE_DIR, else /var/cache/shoal/images. */
export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[IMAGE_DIR_ENV] || DEFAULT_IMAGE_CACHE_DIR;
}

/** Reads image.json of a built image and checks its files are there; throws GuestImageMissingError otherwise. */
export async function locateGuestImage(opts: { name?: string; cacheDir?: string } = {}): Promise<GuestImage> {
  const name = opts.name ?? DEFAULT_IMAGE_NAME;
  const dir = join(opts.cacheDir ?? imageCacheDir(), name);
  let raw: string;
  try {
    raw = await readFile(join(dir, 'image.json'), 'utf8');
  } catch (err) {
    throw new GuestImageMissingError(dir, `no image.json: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new GuestImageMissingError(dir, 'image.json is not JSON');
  }
  const str = (key: string): string => {
    const v = meta[key];
    if (typeof v !== 'string' || v === '') throw new GuestImageMissingError(dir, `image.json has no ${key}`);
    return v;
  };
  const kernel = join(dir, str('kernel'));
  const initrd = join(dir, str('initrd'));
  for (const file of [kernel, initrd]) {
    try {
      await access(file, constants.R_OK);
    } catch {
      throw new GuestImageMissingError(dir, `${file} is missing or unreadable`);
    }
  }
  const image: GuestImage = {
    name,
    dir,
    kernel,
    initrd,
    kernelPackage: str('kernelPackage'),
    kernelPackageVersion: str('kernelPackageVersion'),
    kernelRelease: str('kernelRelease'),
    busyboxVersion: str('busyboxVersion'),
    recipe: str('recipe'),
    builtAt: str('builtAt'),
    modules: Array.isArray(meta.modules) ? meta.modules.filter((m): m is string => typeof m === 'string') : [],
    kernelSha256: typeof meta.kernelSha256 === 'string' ? meta.kernelSha256 : undefined,
    initrdSha256: typeof meta.initrdSha256 === 'string' ? meta.initrdSha256 : undefined,
    version: '',
  };
  image.version = `${image.kernelPackageVersion}/${image.busyboxVersion}/${image.recipe}`;
  return image;
}

/** Runs deploy/guest/build-image.sh (a no-op when the cached image is current) and locates the result. */
export async function buildGuestImage(opts: { cacheDir?: string; force?: boolean } = {}): Promise<GuestImage> {
  const cacheDir = opts.cacheDir ?? imageCacheDir();
  const r = await execa('bash', [BUILD_IMAGE_SCRIPT, ...(opts.force ? ['--force'] : [])], {
    reject: false,
    all: true,
    env: { [IMAGE_DIR_ENV]: cacheDir },
  });
  if (r.exitCode !== 0) throw new Error(`${BUILD_IMAGE_SCRIPT} failed (exit code ${r.exitCode}):\n${r.all ?? ''}`);
  return locateGuestImage({ name: DEFAULT_IMAGE_NAME, cacheDir });
}
