/**
 * `bootherd ipxe build`: iPXE compiled from source with an embedded script and, optionally, its own DHCP user class
 * (option 77), cached by the hash of everything that goes into it.
 *
 * The user class: iPXE puts `DHCP_USER_CLASS_ID, DHCP_STRING ( 'i', 'P', 'X', 'E' )` in every DHCP request
 * (src/net/udp/dhcp.c, `dhcp_request_options_data`), and no config header can change it, so the build copy of that
 * one line is patched; the patch refuses to apply unless it finds exactly that line once.
 *
 * Cache: `<cacheDir>/<key>/<target>` with `build.json` beside; key = SHA-256 of (recipe version, source id, targets,
 * embedded script, user class). Builds run in a private copy of the source and are renamed into place, so concurrent
 * builds of the same key leave one complete result.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { BootherdError } from '../errors.ts';
import { type IpxeSource, isBuildOutput } from './ipxe-source.ts';
import { customScript } from './script.ts';
import { runTool } from './tool.ts';

/** Bump when the way a build is made changes (make flags, patches), so old cache entries are not taken for new ones. */
export const RECIPE_VERSION = 1;
const MANIFEST = 'build.json';
const EMBED_NAME = 'bootherd.ipxe';
const MAX_EMBED = 64 * 1024;

const BIOS = ['kpxe', 'kkpxe', 'kkkpxe', 'pxe', 'lkrn', 'rom', 'mrom'];
const EFI = ['efi', 'efirom', 'efidrv'];
/** Build folders of iPXE's x86 platforms (src/Makefile.housekeeping: `bin-<arch>-<platform>`, `bin` = i386 pcbios). */
const PLATFORMS: Record<string, string[]> = {
  bin: BIOS,
  'bin-i386-pcbios': BIOS,
  'bin-x86_64-pcbios': BIOS,
  'bin-i386-efi': EFI,
  'bin-x86_64-efi': EFI,
};

export interface BuildRequest {
  /** iPXE make targets, e.g. `bin/undionly.kpxe`, `bin/1af41000.rom`, `bin-x86_64-efi/ipxe.efi`. */
  targets: string[];
  /** The script iPXE runs instead of its default autoboot; absent: plain autoboot. */
  embed?: string;
  /** Option 77 this build sends instead of `iPXE`. */
  userClass?: string;
}

export interface BuiltFile {
  target: string;
  path: string;
  sha256: string;
  bytes: number;
}

export interface BuildResult {
  /** `<cacheDir>/<key>`. */
  dir: string;
  key: string;
  source: string;
  cached: boolean;
  /** Compile time of this result (when it was built, for a cached one). */
  seconds: number;
  files: BuiltFile[];
}

/**
 * A target iPXE can build for x86 BIOS or UEFI: `<platform folder>/<name>.<format>`, where the name is a driver
 * (`virtio-net`), a PCI ID (`1af41000`, vendor and device in hex), or `ipxe`/`undionly`/`snponly`.
 */
export function checkTarget(target: string): string {
  const m = /^(bin(?:-[a-z0-9_]+)*)\/([a-z0-9][a-z0-9_-]{0,63})\.([a-z]{2,8})$/.exec(target);
  const formats = m ? PLATFORMS[m[1] ?? ''] : undefined;
  if (!m || !formats) {
    throw new BootherdError(
      'BAD_REQUEST',
      `--target ${JSON.stringify(target)}: not an iPXE target like bin/undionly.kpxe, bin/1af41000.rom or bin-x86_64-efi/ipxe.efi (folders: ${Object.keys(PLATFORMS).join(', ')})`,
    );
  }
  if (!formats.includes(m[3] ?? '')) {
    throw new BootherdError('BAD_REQUEST', `--target ${target}: ${m[1]}/ builds .${formats.join(', .')}, not .${m[3]}`);
  }
  return target;
}

/**
 * A user class goes into a C byte list and into DHCP server configs: plain visible ASCII, 1–32 characters. Short
 * enough that its first byte (at least `0` = 48) can never read as an RFC 3004 instance length covering the rest.
 */
export function checkUserClass(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:+-]{0,31}$/.test(name)) {
    throw new BootherdError(
      'BAD_REQUEST',
      `--user-class ${JSON.stringify(name)}: use 1 to 32 of A-Z a-z 0-9 . _ : + - (starting with a letter or digit)`,
    );
  }
  if (name === 'iPXE') {
    throw new BootherdError(
      'BAD_REQUEST',
      '--user-class iPXE is what every stock iPXE sends: choose a name of your own',
    );
  }
  return name;
}

/** The script to embed: an iPXE script (else iPXE would try to boot it as an image), of a sane size. */
export function checkEmbed(text: string, source: string): string {
  if (Buffer.byteLength(text) > MAX_EMBED)
    throw new BootherdError('SCRIPT_VALUE', `${source} is larger than ${MAX_EMBED} bytes`, { field: 'script' });
  return customScript(text, source);
}

/** Validated, with targets deduplicated and sorted: the same build asked in another order is the same build. */
export function normalizeRequest(r: BuildRequest): BuildRequest {
  const targets = [...new Set(r.targets.map(checkTarget))].sort();
  if (targets.length === 0) throw new BootherdError('BAD_REQUEST', 'no --target to build');
  return {
    targets,
    ...(r.embed !== undefined ? { embed: checkEmbed(r.embed, 'the embedded script') } : {}),
    ...(r.userClass !== undefined ? { userClass: checkUserClass(r.userClass) } : {}),
  };
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

export function buildKey(sourceId: string, r: BuildRequest): string {
  return sha256(
    JSON.stringify({
      recipe: RECIPE_VERSION,
      source: sourceId,
      targets: r.targets,
      embed: r.embed === undefined ? null : sha256(r.embed),
      userClass: r.userClass ?? null,
    }),
  );
}

const STOCK_CLASS = /DHCP_USER_CLASS_ID,\s*DHCP_STRING\s*\(\s*'i',\s*'P',\s*'X',\s*'E'\s*\)/g;

/** dhcp.c with the user class replaced; bytes as hex literals, so no character needs C escaping. */
export function patchUserClass(dhcpC: string, name: string): string {
  const found = dhcpC.match(STOCK_CLASS)?.length ?? 0;
  if (found !== 1) {
    throw new BootherdError(
      'IPXE_BUILD',
      `src/net/udp/dhcp.c: expected the user class 'i','P','X','E' once, found it ${found} times: this iPXE version needs a newer bootherd`,
    );
  }
  const bytes = [...Buffer.from(checkUserClass(name), 'latin1')].map((b) => `0x${b.toString(16)}`).join(', ');
  return dhcpC.replace(STOCK_CLASS, `DHCP_USER_CLASS_ID, DHCP_STRING ( ${bytes} ) /* bootherd --user-class */`);
}

/** Before a build: the compiler, make and the LZMA headers iPXE's zbin needs, each named by its package. */
export async function checkToolchain(): Promise<void> {
  await runTool('make', ['--version'], { pkg: 'make' });
  await runTool('gcc', ['--version'], { pkg: 'gcc' });
  const lzma = await stat('/usr/include/lzma.h').catch(() => undefined);
  if (!lzma?.isFile()) {
    throw new BootherdError(
      'TOOL_MISSING',
      "/usr/include/lzma.h not found (iPXE's util/zbin compresses with it): install the Debian package liblzma-dev",
    );
  }
}

async function readCached(dir: string, key: string): Promise<BuildResult | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as {
      key: string;
      source: string;
      seconds: number;
      files: Omit<BuiltFile, 'path'>[];
    };
    if (m.key !== key) return undefined;
    const files: BuiltFile[] = [];
    for (const f of m.files) {
      const path = join(dir, f.target);
      const bytes = await readFile(path);
      if (sha256(bytes) !== f.sha256) return undefined;
      files.push({ ...f, path });
    }
    return { dir, key, source: m.source, cached: true, seconds: m.seconds, files };
  } catch {
    return undefined;
  }
}

export interface BuildOptions {
  /** make -j; default: the number of CPUs. */
  jobs?: number;
  timeoutMs?: number;
}

/** The build for these inputs: from the cache, else compiled now. */
export async function buildIpxe(
  cacheDir: string,
  source: IpxeSource,
  request: BuildRequest,
  o: BuildOptions = {},
): Promise<BuildResult> {
  const req = normalizeRequest(request);
  const key = buildKey(source.id, req);
  const dir = join(cacheDir, key);
  const cached = await readCached(dir, key);
  if (cached) return cached;
  await checkToolchain();

  const work = join(cacheDir, `.build-${key.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  const src = join(work, 'src');
  try {
    const started = Date.now();
    await mkdir(work, { recursive: true });
    await cp(source.srcDir, src, { recursive: true, filter: (p) => !isBuildOutput(relative(source.srcDir, p)) });
    if (req.userClass !== undefined) {
      const dhcpC = join(src, 'net', 'udp', 'dhcp.c');
      await writeFile(dhcpC, patchUserClass(await readFile(dhcpC, 'utf8'), req.userClass));
    }
    if (req.embed !== undefined) await writeFile(join(src, EMBED_NAME), req.embed);
    await make(src, req, o, join(cacheDir, 'last-failure.log'));
    const seconds = Math.round((Date.now() - started) / 100) / 10;

    const out = join(work, 'out');
    const files: Omit<BuiltFile, 'path'>[] = [];
    for (const target of req.targets) {
      const bytes = await readFile(join(src, target)).catch(() => {
        throw new BootherdError('IPXE_BUILD', `make finished but left no ${target}`);
      });
      await mkdir(join(out, dirname(target)), { recursive: true });
      await writeFile(join(out, target), bytes);
      files.push({ target, sha256: sha256(bytes), bytes: bytes.length });
    }
    const manifest = {
      key,
      recipe: RECIPE_VERSION,
      source: source.id,
      targets: req.targets,
      userClass: req.userClass ?? null,
      embedSha256: req.embed === undefined ? null : sha256(req.embed),
      seconds,
      builtAt: new Date().toISOString(),
      files,
    };
    await writeFile(join(out, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    // A finished concurrent build of the same key is kept; a broken entry (a file changed since) is replaced.
    const raced = await readCached(dir, key);
    if (raced) return raced;
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    const done = await readCached(dir, key);
    if (!done) throw new BootherdError('IPXE_BUILD', `the build result in ${dir} is incomplete`);
    return { ...done, cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function make(src: string, req: BuildRequest, o: BuildOptions, logFile: string): Promise<void> {
  const jobs = o.jobs ?? availableParallelism();
  const args = [
    `-j${jobs}`,
    ...req.targets,
    // Warnings of a newer compiler than the source was written for are not errors here.
    'NO_WERROR=1',
    ...(req.embed !== undefined ? [`EMBED=${EMBED_NAME}`] : []),
  ];
  try {
    await runTool('make', args, {
      pkg: 'make',
      cwd: src,
      timeout: o.timeoutMs ?? 30 * 60_000,
      env: { ...process.env, LC_ALL: 'C' },
      explain: (text) => {
        writeFileSync(logFile, text);
        const errors = text
          .split('\n')
          .filter((l) => /error|not found|No such file|cannot find/i.test(l))
          .slice(0, 5);
        return `make ${req.targets.join(' ')} failed: ${(errors.length ? errors : text.trim().split('\n').slice(-5)).join(' | ')} (whole log: ${logFile})`;
      },
    });
  } catch (err) {
    if (err instanceof BootherdError && err.code === 'MEDIA') throw new BootherdError('IPXE_BUILD', err.message);
    throw err;
  }
}

/** Copy the results into `outDir` by file name; two targets with one file name would overwrite each other. */
export async function copyResults(files: BuiltFile[], outDir: string): Promise<string[]> {
  const names = files.map((f) => basename(f.target));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new BootherdError('BAD_REQUEST', `--out: two targets are named ${dup}; copy them by hand`);
  await mkdir(outDir, { recursive: true });
  const copied: string[] = [];
  for (const f of files) {
    const dest = join(outDir, basename(f.target));
    await cp(f.path, dest);
    copied.push(dest);
  }
  return copied;
}
