/**
 * What an ISO is, from its file list and a few small files: the installers and live systems bootherd can boot by
 * kernel + initrd over HTTP, the files to copy for that, and the profile with its command line. Anything else is
 * booted whole with `sanboot`. Pure: the importer reads the image, this decides.
 */
import type { BootSpec } from '../model/types.ts';

export type ImageKind =
  | 'debian-installer'
  | 'debian-live'
  | 'ubuntu-live'
  | 'fedora-installer'
  | 'fedora-live'
  | 'alpine'
  | 'memtest'
  | 'unknown';

/** Small files read before recognition, when the image has them. */
export const TEXT_FILES = ['.disk/info', '.treeinfo', '.alpine-release'];

export interface RecognizeInput {
  /** The image name: its assets live under `images/<name>/`. */
  name: string;
  volumeId: string;
  /** Every file's path in the image. */
  files: string[];
  /** Contents of the TEXT_FILES the image has, by lower-case path. */
  texts: Record<string, string>;
  /** Extra kernel arguments for the command line (e.g. `console=ttyS0,115200`). */
  append?: string;
}

export interface Recipe {
  kind: ImageKind;
  description: string;
  /** Image paths to copy, each to `images/<name>/<same path>`. */
  files: string[];
  /** Copy the whole ISO to `images/<name>/<name>.iso` too. */
  wholeIso: boolean;
  boot: BootSpec;
}

export function isoAssetName(name: string): string {
  return `${name}.iso`;
}

export function recognize(input: RecognizeInput): Recipe {
  const byLower = new Map(input.files.map((f) => [f.toLowerCase(), f]));
  const has = (p: string) => byLower.get(p.toLowerCase());
  const under = (dir: string) => input.files.filter((f) => f.toLowerCase().startsWith(`${dir.toLowerCase()}/`));
  const asset = (p: string) => `images/${input.name}/${p}`;
  // Resolved per machine when the script is rendered, so the URLs follow http.advertise.
  const base = `{{base_url}}/assets/images/${input.name}`;
  const url = (p: string) => `${base}/${p.split('/').map(encodeURIComponent).join('/')}`;
  const args = (...a: (string | undefined)[]) => a.filter((x) => x).join(' ');
  const kernel = (k: string, initrds: string[], cmdline: string): BootSpec => ({
    kind: 'kernel',
    kernel: asset(k),
    initrds: initrds.map(asset),
    cmdline,
  });
  const extra = input.append?.trim() || undefined;
  const info = input.texts['.disk/info']?.split('\n')[0]?.trim();
  const described = (fallback: string) => info || input.volumeId || fallback;

  // Alpine: boot/vmlinuz-<flavor> + boot/initramfs-<flavor> (+ boot/modloop-<flavor>), packages under apks/.
  const flavor = ['lts', 'virt', ...alpineFlavors(input.files)].find(
    (f) => has(`boot/vmlinuz-${f}`) && has(`boot/initramfs-${f}`),
  );
  if (flavor && (input.texts['.alpine-release'] !== undefined || under('apks').length > 0)) {
    const modloop = has(`boot/modloop-${flavor}`);
    const release = input.texts['.alpine-release']?.trim().split(/\s+/)[0];
    return {
      kind: 'alpine',
      description: release ? `Alpine Linux ${release} (${flavor})` : described('Alpine Linux'),
      files: [
        has(`boot/vmlinuz-${flavor}`)!,
        has(`boot/initramfs-${flavor}`)!,
        ...(modloop ? [modloop] : []),
        ...under('apks'),
      ],
      wholeIso: false,
      // Alpine's init: `alpine_repo=` is the package repository, `modloop=` the kernel modules image, by URL.
      boot: kernel(
        has(`boot/vmlinuz-${flavor}`)!,
        [has(`boot/initramfs-${flavor}`)!],
        args(
          'ip=dhcp',
          `alpine_repo=${url('apks')}`,
          modloop && `modloop=${url(modloop)}`,
          'modules=loop,squashfs',
          extra,
        ),
      ),
    };
  }

  // Debian installer: install.amd/ (amd64), install.a64/ (arm64), install.386/ (i386) with vmlinuz + initrd.gz.
  for (const dir of ['install.amd', 'install.a64', 'install.386']) {
    const k = has(`${dir}/vmlinuz`);
    const i = has(`${dir}/initrd.gz`);
    if (k && i)
      return {
        kind: 'debian-installer',
        description: described('Debian installer'),
        files: [k, i],
        wholeIso: false,
        // Installer arguments go before `---`; what follows it is copied to the installed system's command line.
        boot: kernel(k, [i], args(extra, '---', 'quiet')),
      };
  }

  // Debian live: live/vmlinuz* + live/initrd* + live/filesystem.squashfs, fetched by live-boot over HTTP.
  const squashfs = has('live/filesystem.squashfs');
  const liveKernel = pick(under('live'), /^live\/vmlinuz/i);
  if (squashfs && liveKernel) {
    const initrd =
      matching(under('live'), liveKernel, 'vmlinuz', 'initrd.img') ?? pick(under('live'), /^live\/initrd/i);
    if (initrd)
      return {
        kind: 'debian-live',
        description: described('Debian live'),
        files: [liveKernel, initrd, squashfs],
        wholeIso: false,
        boot: kernel(liveKernel, [initrd], args('boot=live', 'components', `fetch=${url(squashfs)}`, extra)),
      };
  }

  // Ubuntu (live server and desktop): casper/vmlinuz + casper/initrd; casper's netboot=url loads the whole ISO.
  const casperKernel = has('casper/vmlinuz');
  const casperInitrd = ['casper/initrd', 'casper/initrd.lz', 'casper/initrd.gz'].map(has).find((x) => x);
  if (casperKernel && casperInitrd)
    return {
      kind: 'ubuntu-live',
      description: described('Ubuntu'),
      files: [casperKernel, casperInitrd],
      wholeIso: true,
      boot: kernel(
        casperKernel,
        [casperInitrd],
        args('boot=casper', 'netboot=url', `url=${url(isoAssetName(input.name))}`, 'ip=dhcp', extra),
      ),
    };

  // Fedora, RHEL and rebuilds: images/pxeboot/vmlinuz + initrd.img; the installer's stage 2 is images/install.img,
  // a live system's root is LiveOS/squashfs.img.
  const pxeKernel = has('images/pxeboot/vmlinuz');
  const pxeInitrd = has('images/pxeboot/initrd.img');
  if (pxeKernel && pxeInitrd) {
    const stage2 = has('images/install.img');
    const live = has('LiveOS/squashfs.img');
    const description = treeinfoName(input.texts['.treeinfo']) ?? described('Fedora/RHEL');
    if (stage2)
      return {
        kind: 'fedora-installer',
        description,
        files: [pxeKernel, pxeInitrd, stage2],
        wholeIso: false,
        // inst.stage2 names the tree; the installer finds images/install.img in it.
        boot: kernel(pxeKernel, [pxeInitrd], args(`inst.stage2=${base}`, 'ip=dhcp', extra)),
      };
    if (live)
      return {
        kind: 'fedora-live',
        description,
        files: [pxeKernel, pxeInitrd, live],
        wholeIso: false,
        boot: kernel(pxeKernel, [pxeInitrd], args(`root=live:${url(live)}`, 'rd.live.image', 'ip=dhcp', extra)),
      };
  }

  // memtest86+: its .bin speaks the Linux boot protocol (BIOS); the .efi is the UEFI build.
  const memtest = pick(input.files, /(^|\/)memtest[^/]*\.bin$/i) ?? pick(input.files, /(^|\/)memtest[^/]*\.efi$/i);
  if (memtest)
    return {
      kind: 'memtest',
      description: described('memtest86+'),
      files: [memtest],
      wholeIso: false,
      boot: kernel(memtest, [], args('console=ttyS0,115200', extra)),
    };

  return {
    kind: 'unknown',
    description: described('ISO image'),
    files: [],
    wholeIso: true,
    boot: { kind: 'sanboot', url: asset(isoAssetName(input.name)) },
  };
}

function alpineFlavors(files: string[]): string[] {
  return files.flatMap((f) => /^boot\/vmlinuz-([a-z0-9]+)$/i.exec(f)?.[1] ?? []).sort();
}

/** The first (sorted) path matching, so the pick does not depend on directory order. */
function pick(files: string[], re: RegExp): string | undefined {
  return files.filter((f) => re.test(f)).sort()[0];
}

/** `live/vmlinuz-6.1.0-18-amd64` → `live/initrd.img-6.1.0-18-amd64`, when the image has it. */
function matching(files: string[], kernel: string, from: string, to: string): string | undefined {
  const want = kernel.replace(new RegExp(`${from}(?=[^/]*$)`, 'i'), to).toLowerCase();
  return files.find((f) => f.toLowerCase() === want);
}

/** `.treeinfo` ([release] name + version, or the older [general] family + version) → "Fedora 40". */
function treeinfoName(text: string | undefined): string | undefined {
  if (!text) return undefined;
  for (const section of ['release', 'general']) {
    const body = new RegExp(`^\\[${section}\\]\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, 'm').exec(text)?.[1];
    if (!body) continue;
    const field = (k: string) => new RegExp(`^${k}\\s*=\\s*(.+)$`, 'm').exec(body)?.[1]?.trim();
    const name = field('name') ?? field('family');
    if (name) return [name, field('version')].filter((x) => x).join(' ');
  }
  return undefined;
}
