/**
 * A QEMU VM with no network that boots a disk image (an ESP) under OVMF, with its serial console captured so a test
 * can wait for a line. TCG, a hard deadline, killed by PID.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { runQemu, type Vm } from './qemu.ts';

export { tail } from './qemu.ts';

export interface EspVmOptions {
  /** Attached as a virtio disk. */
  image: string;
  /** Folder for this VM's private copy of the OVMF variable store. */
  workDir: string;
  deadlineMs: number;
}

let seq = 0;

export function startEspVm(o: EspVmOptions): Vm {
  const args = ['-accel', 'tcg', '-machine', 'q35', '-m', '256', '-nographic', '-vga', 'none', '-no-reboot'];
  args.push('-nic', 'none');
  const vars = join(o.workDir, `OVMF_VARS-${process.pid}-${seq++}.fd`);
  copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
  args.push(
    '-drive',
    'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
    '-drive',
    `if=pflash,format=raw,unit=1,file=${vars}`,
  );
  // The path goes into a QEMU option string, where a comma would start a new option.
  if (!/^[\w./-]+$/.test(o.image)) throw new Error(`unsafe path for a QEMU -drive option: ${o.image}`);
  // snapshot: the guest never writes to the image on disk.
  args.push('-drive', `file=${o.image},format=raw,if=none,id=m0,snapshot=on`);
  args.push('-device', 'virtio-blk-pci,drive=m0,bootindex=0');
  return runQemu(['qemu-system-x86_64', ...args], o.deadlineMs);
}
