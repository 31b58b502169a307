/**
 * A VM that boots from media instead of the network: the same VM as qemu.ts (serial console, deadline, kill by PID),
 * with an ISO attached as a CD drive or as a raw hard disk (what a USB stick written with dd looks like to a BIOS).
 */
import { startVm, type Vm, type VmOptions } from './qemu.ts';

export type MediaVmOptions = Omit<VmOptions, 'kernel' | 'initrd'> & {
  iso: string;
  as: 'cdrom' | 'disk';
};

export function startMediaVm(o: MediaVmOptions): Vm {
  // The path goes into a QEMU option string, where a comma would start a new option.
  if (!/^[\w./-]+$/.test(o.iso)) throw new Error(`unsafe path for a QEMU -drive option: ${o.iso}`);
  const drive =
    o.as === 'cdrom'
      ? ['-drive', `file=${o.iso},format=raw,media=cdrom,readonly=on`, '-boot', 'd']
      : // snapshot: the guest never writes to the image a test checks.
        ['-drive', `file=${o.iso},format=raw,if=ide,snapshot=on`, '-boot', 'c'];
  const { iso: _iso, as: _as, ...vm } = o;
  return startVm({ ...vm, extraArgs: [...(o.extraArgs ?? []), ...drive] });
}
