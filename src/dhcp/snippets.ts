/**
 * Off mode: bootherd leaves DHCP to the site's server and prints the configuration that makes that server take the
 * same decisions boot/decide.ts takes — the iPXE binary per firmware (option 93), the chainload loop broken by user
 * class 77 plus the option 175 features we require, the HTTP script URL, and UEFI HTTP boot.
 */
import { IPXE_FEATURE_CODES } from './encapsulated.ts';

export interface SnippetInput {
  /** http://host:port of bootherd, as in boot.base_url. */
  baseUrl: string;
  /** Where firmware fetches iPXE binaries over TFTP (bootherd's TFTP or another). */
  tftpServer: string;
  bootFiles: { bios?: string; 'x64-uefi'?: string; 'arm64-uefi'?: string };
  requiredFeatures: string[];
  userClass?: string;
}

export type SnippetKind = 'dnsmasq' | 'isc-dhcpd' | 'kea';

function featureCodes(features: string[]): [string, number][] {
  return features.map((f) => {
    const code = IPXE_FEATURE_CODES.get(f);
    if (code === undefined) throw new Error(`unknown iPXE feature "${f}" in boot.required_features`);
    return [f, code];
  });
}

/** Values go into other programs' config files: refuse anything that could break out of a quoted string. */
function safe(what: string, v: string): string {
  if (!/^[A-Za-z0-9._:/@%+=~-]+$/.test(v))
    throw new Error(`${what} "${v}" has characters a DHCP server config cannot take safely`);
  return v;
}

export function dhcpSnippet(kind: SnippetKind, i: SnippetInput): string {
  const script = safe('base URL', `${i.baseUrl}/boot.ipxe`);
  const tftp = safe('TFTP server', i.tftpServer);
  const files = {
    bios: safe('boot file', i.bootFiles.bios ?? 'undionly.kpxe'),
    x64: safe('boot file', i.bootFiles['x64-uefi'] ?? 'snponly.efi'),
    arm64: safe('boot file', i.bootFiles['arm64-uefi'] ?? 'ipxe-arm64.efi'),
  };
  const httpBoot = safe('base URL', `${i.baseUrl}/ipxe-bin/${files.x64}`);
  const features = featureCodes(i.requiredFeatures);
  const uc = i.userClass === undefined ? undefined : safe('user class', i.userClass);
  switch (kind) {
    case 'dnsmasq':
      return [
        '# bootherd: boot decisions for dnsmasq (DHCP here; TFTP and HTTP from bootherd)',
        'dhcp-match=set:bios,option:client-arch,0',
        'dhcp-match=set:efi-x64,option:client-arch,7',
        'dhcp-match=set:efi-x64,option:client-arch,9',
        'dhcp-match=set:efi-arm64,option:client-arch,11',
        'dhcp-match=set:http-x64,option:client-arch,16',
        '# An iPXE (user class 77 "iPXE") with the features bootherd requires gets the script, not a binary again.',
        'dhcp-userclass=set:ipxe,iPXE',
        ...features.map(([name, code]) => `dhcp-match=set:ipxe-${name},175,${code}`),
        `tag-if=set:capable,tag:ipxe${features.map(([name]) => `,tag:ipxe-${name}`).join('')}`,
        ...(uc ? [`dhcp-userclass=set:bootherd-ipxe,${uc}`, 'tag-if=set:capable,tag:bootherd-ipxe'] : []),
        `dhcp-boot=tag:capable,${script}`,
        `dhcp-boot=tag:!capable,tag:bios,${files.bios},,${tftp}`,
        `dhcp-boot=tag:!capable,tag:efi-x64,${files.x64},,${tftp}`,
        `dhcp-boot=tag:!capable,tag:efi-arm64,${files.arm64},,${tftp}`,
        '# UEFI HTTP boot: the firmware wants option 60 "HTTPClient" back and a URL.',
        'dhcp-option-force=tag:http-x64,60,HTTPClient',
        `dhcp-boot=tag:http-x64,${httpBoot}`,
        '',
      ].join('\n');
    case 'isc-dhcpd': {
      const capable = [
        'exists user-class and option user-class = "iPXE"',
        ...features.map(([name]) => `exists ipxe.${name}`),
      ].join(' and ');
      return [
        '# bootherd: boot decisions for ISC dhcpd (put at the top level, before your subnets)',
        'option space ipxe;',
        'option ipxe-encap-opts code 175 = encapsulate ipxe;',
        ...features.map(([name, code]) => `option ipxe.${name} code ${code} = unsigned integer 8;`),
        'option client-arch code 93 = unsigned integer 16;',
        `next-server ${tftp};`,
        // dhcpd reads `if (a) or b` as `if (a)` and then wants a brace: the whole test goes in one pair of parentheses.
        uc ? `if ((${capable}) or (option user-class = "${uc}")) {` : `if (${capable}) {`,
        `  filename "${script}";`,
        '} elsif option client-arch = 7 or option client-arch = 9 {',
        `  filename "${files.x64}";`,
        '} elsif option client-arch = 11 {',
        `  filename "${files.arm64}";`,
        '} elsif option client-arch = 16 {',
        '  option vendor-class-identifier "HTTPClient";',
        `  filename "${httpBoot}";`,
        '} elsif option client-arch = 0 {',
        `  filename "${files.bios}";`,
        '}',
        '',
      ].join('\n');
    }
    case 'kea': {
      const capable = [
        "substring(option[77].hex,0,4) == 'iPXE'",
        ...features.map(([, code]) => `option[175].option[${code}].exists`),
      ].join(' and ');
      const arch = (codes: number[]) =>
        `(${codes.map((c) => `option[93].hex == 0x${c.toString(16).padStart(4, '0')}`).join(' or ')})`;
      const doc = {
        'option-def': [
          { name: 'ipxe-encap-opts', code: 175, type: 'empty', encapsulate: 'ipxe' },
          ...features.map(([name, code]) => ({ name, code, space: 'ipxe', type: 'uint8' })),
        ],
        'client-classes': [
          {
            name: 'bootherd-ipxe',
            test: uc ? `(${capable}) or option[77].hex == '${uc}'` : capable,
            'boot-file-name': script,
          },
          {
            name: 'bootherd-bios',
            test: `not member('bootherd-ipxe') and ${arch([0])}`,
            'next-server': tftp,
            'boot-file-name': files.bios,
          },
          {
            name: 'bootherd-efi-x64',
            test: `not member('bootherd-ipxe') and ${arch([7, 9])}`,
            'next-server': tftp,
            'boot-file-name': files.x64,
          },
          {
            name: 'bootherd-efi-arm64',
            test: `not member('bootherd-ipxe') and ${arch([11])}`,
            'next-server': tftp,
            'boot-file-name': files.arm64,
          },
          {
            name: 'bootherd-http-x64',
            test: arch([16]),
            'boot-file-name': httpBoot,
            'option-data': [{ name: 'vendor-class-identifier', data: 'HTTPClient' }],
          },
        ],
      };
      return `// bootherd: boot decisions for Kea DHCPv4: merge "option-def" and "client-classes" into your "Dhcp4".\n${JSON.stringify(doc, null, 2)}\n`;
    }
  }
}
