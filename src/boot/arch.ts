/**
 * RFC 4578 §2.1 option 93 "Client System Architecture Type", with the later IANA registrations
 * (processor-architecture registry): the code a client sends tells us which iPXE binary it can run.
 */
export interface ArchInfo {
  name: string;
  platform: 'pcbios' | 'efi';
  buildarch: 'i386' | 'x86_64' | 'arm32' | 'arm64';
  /** UEFI HTTP boot: the firmware fetches its boot file by URL instead of TFTP. */
  http: boolean;
}

const ARCHES: ReadonlyMap<number, ArchInfo> = new Map([
  [0, { name: 'bios', platform: 'pcbios', buildarch: 'i386', http: false }],
  [6, { name: 'ia32-uefi', platform: 'efi', buildarch: 'i386', http: false }],
  [7, { name: 'x64-uefi', platform: 'efi', buildarch: 'x86_64', http: false }],
  [9, { name: 'x64-uefi', platform: 'efi', buildarch: 'x86_64', http: false }],
  [10, { name: 'arm32-uefi', platform: 'efi', buildarch: 'arm32', http: false }],
  [11, { name: 'arm64-uefi', platform: 'efi', buildarch: 'arm64', http: false }],
  [15, { name: 'ia32-uefi-http', platform: 'efi', buildarch: 'i386', http: true }],
  [16, { name: 'x64-uefi-http', platform: 'efi', buildarch: 'x86_64', http: true }],
  [18, { name: 'arm32-uefi-http', platform: 'efi', buildarch: 'arm32', http: true }],
  [19, { name: 'arm64-uefi-http', platform: 'efi', buildarch: 'arm64', http: true }],
] satisfies [number, ArchInfo][]);

export function archInfo(code: number | undefined): ArchInfo | undefined {
  return code === undefined ? undefined : ARCHES.get(code);
}

/** The key into the boot-file table: HTTP boot uses the same binary as TFTP boot of its CPU. */
export type FirmwareKey = 'bios' | 'ia32-uefi' | 'x64-uefi' | 'arm32-uefi' | 'arm64-uefi';

export function firmwareKey(info: ArchInfo): FirmwareKey {
  return info.name.replace(/-http$/, '') as FirmwareKey;
}
