/** What each layout is recognised as, which files are copied, and the profile and command line it gets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RecognizeInput, recognize } from '../../../src/images/recognize.ts';
import { checkProfile } from '../../../src/model/validate.ts';

const BASE = '{{base_url}}/assets/images/img';

function r(files: string[], texts: Record<string, string> = {}, extra: Partial<RecognizeInput> = {}) {
  const recipe = recognize({ name: 'img', volumeId: 'VOL', files, texts, ...extra });
  // Whatever is recognised must be a profile the inventory accepts.
  checkProfile({ name: 'img', description: recipe.description, boot: recipe.boot });
  return recipe;
}

describe('recognize', () => {
  it('Debian installer: install.amd kernel and initrd, .disk/info as description, --append before ---', () => {
    const x = r(
      [
        'install.amd/vmlinuz',
        'install.amd/initrd.gz',
        'install.amd/gtk/initrd.gz',
        'isolinux/isolinux.bin',
        '.disk/info',
      ],
      { '.disk/info': 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST\n' },
      { append: 'console=ttyS0' },
    );
    assert.equal(x.kind, 'debian-installer');
    assert.equal(x.description, 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST');
    assert.deepEqual(x.files, ['install.amd/vmlinuz', 'install.amd/initrd.gz']);
    assert.equal(x.wholeIso, false);
    assert.deepEqual(x.boot, {
      kind: 'kernel',
      kernel: 'images/img/install.amd/vmlinuz',
      initrds: ['images/img/install.amd/initrd.gz'],
      cmdline: 'console=ttyS0 --- quiet',
    });
  });

  it('Debian live: versioned kernel and its initrd, fetch= the squashfs from bootherd', () => {
    const x = r([
      'live/vmlinuz-6.1.0-18-amd64',
      'live/initrd.img-6.1.0-18-amd64',
      'live/filesystem.squashfs',
      'install/vmlinuz',
      'install/initrd.gz',
    ]);
    assert.equal(x.kind, 'debian-live');
    assert.deepEqual(x.files, [
      'live/vmlinuz-6.1.0-18-amd64',
      'live/initrd.img-6.1.0-18-amd64',
      'live/filesystem.squashfs',
    ]);
    assert.equal(
      x.boot.kind === 'kernel' && x.boot.cmdline,
      `boot=live components fetch=${BASE}/live/filesystem.squashfs`,
    );
  });

  it('Ubuntu: casper kernel and initrd, the whole ISO for netboot=url', () => {
    const x = r(['casper/vmlinuz', 'casper/initrd', 'casper/filesystem.squashfs', '.disk/info'], {
      '.disk/info': 'Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827)',
    });
    assert.equal(x.kind, 'ubuntu-live');
    assert.equal(x.wholeIso, true);
    assert.deepEqual(x.files, ['casper/vmlinuz', 'casper/initrd']);
    assert.equal(x.boot.kind === 'kernel' && x.boot.cmdline, `boot=casper netboot=url url=${BASE}/img.iso ip=dhcp`);
  });

  it('Fedora/RHEL installer: pxeboot kernel and initrd, install.img, inst.stage2 at the copied tree', () => {
    const x = r(['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img', 'images/install.img', '.treeinfo'], {
      '.treeinfo': '[header]\ntype = productmd.treeinfo\n[release]\nname = Fedora\nshort = Fedora\nversion = 41\n',
    });
    assert.equal(x.kind, 'fedora-installer');
    assert.equal(x.description, 'Fedora 41');
    assert.deepEqual(x.files, ['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img', 'images/install.img']);
    assert.equal(x.boot.kind === 'kernel' && x.boot.cmdline, `inst.stage2=${BASE} ip=dhcp`);
  });

  it('Fedora live: root=live: the squashfs over HTTP', () => {
    const x = r(['images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img', 'LiveOS/squashfs.img']);
    assert.equal(x.kind, 'fedora-live');
    assert.equal(
      x.boot.kind === 'kernel' && x.boot.cmdline,
      `root=live:${BASE}/LiveOS/squashfs.img rd.live.image ip=dhcp`,
    );
  });

  it('Alpine: lts kernel and initramfs, modloop and the apks repository served back by bootherd', () => {
    const x = r(
      [
        'boot/vmlinuz-lts',
        'boot/initramfs-lts',
        'boot/modloop-lts',
        'boot/syslinux/isolinux.bin',
        'apks/x86_64/APKINDEX.tar.gz',
        'apks/x86_64/musl-1.2.5-r0.apk',
        '.alpine-release',
      ],
      { '.alpine-release': '3.20.3 240906\n' },
    );
    assert.equal(x.kind, 'alpine');
    assert.equal(x.description, 'Alpine Linux 3.20.3 (lts)');
    assert.deepEqual(x.files, [
      'boot/vmlinuz-lts',
      'boot/initramfs-lts',
      'boot/modloop-lts',
      'apks/x86_64/APKINDEX.tar.gz',
      'apks/x86_64/musl-1.2.5-r0.apk',
    ]);
    assert.equal(
      x.boot.kind === 'kernel' && x.boot.cmdline,
      `ip=dhcp alpine_repo=${BASE}/apks modloop=${BASE}/boot/modloop-lts modules=loop,squashfs`,
    );
  });

  it('Alpine virt flavour when there is no lts', () => {
    const x = r(['boot/vmlinuz-virt', 'boot/initramfs-virt', '.alpine-release'], { '.alpine-release': '3.21.0\n' });
    assert.equal(x.kind, 'alpine');
    assert.deepEqual(x.files, ['boot/vmlinuz-virt', 'boot/initramfs-virt']);
  });

  it('memtest86+: the .bin as a kernel, like the hand-written memtest profile', () => {
    const x = r(['boot/memtest.bin', 'EFI/BOOT/memtest.efi', 'boot/grub/grub.cfg']);
    assert.equal(x.kind, 'memtest');
    assert.deepEqual(x.boot, {
      kind: 'kernel',
      kernel: 'images/img/boot/memtest.bin',
      initrds: [],
      cmdline: 'console=ttyS0,115200',
    });
  });

  it('anything else: sanboot of the whole ISO, described by its volume id', () => {
    const x = r(['README.TXT', 'setup.exe', 'sources/install.wim']);
    assert.equal(x.kind, 'unknown');
    assert.equal(x.description, 'VOL');
    assert.deepEqual(x.files, []);
    assert.equal(x.wholeIso, true);
    assert.deepEqual(x.boot, { kind: 'sanboot', url: 'images/img/img.iso' });
  });

  it('plain ISO 9660 spellings are matched without regard to case; the image path is kept', () => {
    const x = r(['INSTALL.AMD/VMLINUZ', 'INSTALL.AMD/INITRD.GZ']);
    assert.equal(x.kind, 'debian-installer');
    assert.deepEqual(x.files, ['INSTALL.AMD/VMLINUZ', 'INSTALL.AMD/INITRD.GZ']);
  });

  it('half a layout is not enough: a kernel without its initrd is an unknown image', () => {
    assert.equal(r(['install.amd/vmlinuz']).kind, 'unknown');
    assert.equal(r(['casper/vmlinuz']).kind, 'unknown');
    assert.equal(r(['live/vmlinuz', 'live/initrd.img']).kind, 'unknown');
  });
});
