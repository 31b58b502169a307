/**
 * Secure Boot's files: the names the boot policy hands out (SHIM_NAME, and SHIM_GRUB_NAME, which shim loads from
 * the folder it came from) mapped to Debian's signed packages' files, and the start-up check that they are there.
 */
import { access } from 'node:fs/promises';
import { type BootPolicyConfig, decideScript, SHIM_GRUB_NAME, SHIM_NAME, secureBootOf } from '../boot/decide.ts';
import { BootherdError } from '../errors.ts';
import type { Group, Machine, Profile } from '../model/types.ts';
import type { Store } from '../store/types.ts';

/** The file behind a Secure Boot name (TFTP root-relative, or under HTTP `/secure-boot/`); undefined for others. */
export function secureBootFile(name: string, boot: BootPolicyConfig): string | undefined {
  const files = boot.secureBootFiles;
  if (!files) return undefined;
  if (name === SHIM_NAME) return files.shim;
  if (name === SHIM_GRUB_NAME) return files.grub;
  return undefined;
}

/** Is the signed chain used at all: the default, or any machine, group or profile that asks for it. */
export function secureBootUsed(
  boot: BootPolicyConfig,
  inv: { machines: Machine[]; groups: Group[]; profiles: Profile[] },
): boolean {
  return boot.secureBoot === true || [...inv.machines, ...inv.groups, ...inv.profiles].some((r) => r.secureBoot);
}

/** At start, when Secure Boot is used: every file there, or an error naming the Debian package that installs it. */
export async function checkSecureBootFiles(boot: BootPolicyConfig): Promise<void> {
  const files = boot.secureBootFiles;
  if (!files) return;
  const wanted = [
    { file: files.shim, key: 'boot.shim', pkg: 'shim-signed' },
    { file: files.grub, key: 'boot.shim_grub', pkg: 'grub-efi-amd64-signed' },
  ];
  for (const w of wanted) {
    await access(w.file).catch(() => {
      throw new BootherdError(
        'CONFIG_INVALID',
        `Secure Boot is used but ${w.key} ${w.file} is missing: install the Debian package ${w.pkg} or set ${w.key}`,
      );
    });
  }
}

/** The start-up check: Secure Boot's files, when the config or the inventory in the store uses Secure Boot. */
export async function checkSecureBootAtStart(boot: BootPolicyConfig, store: Store): Promise<void> {
  const [machines, groups, profiles] = await Promise.all([
    store.listMachines(),
    store.listGroups(),
    store.listProfiles(),
  ]);
  if (secureBootUsed(boot, { machines, groups, profiles })) await checkSecureBootFiles(boot);
}

/**
 * For `bootherd check`: each Secure Boot machine whose boot decision would be refused (a sanboot, chain or iPXE
 * template profile), as "machine <id>: <reason>". The same policy as a real boot, fed the record's own identity.
 */
export function secureBootRefusals(
  boot: BootPolicyConfig,
  inv: { machines: Machine[]; groups: Group[]; profiles: Profile[] },
): string[] {
  const profiles = new Map(inv.profiles.map((p) => [p.name, p]));
  return inv.machines.flatMap((machine) => {
    const facts = { mac: machine.macs[0] ?? '', ...(machine.hostname ? { hostname: machine.hostname } : {}) };
    const view = { machine, groups: inv.groups, profiles };
    const d = decideScript(facts, view, boot);
    return d.kind === 'error' && secureBootOf(facts, view, boot, d) ? [`machine ${machine.id}: ${d.reason}`] : [];
  });
}
