/**
 * One QEMU VM (TCG: nested KVM breaks iPXE's real-mode code) with its serial console captured, so tests can wait for
 * a line. Every VM has a deadline and is killed by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VmOptions {
  /** argv prefix to run QEMU in a network namespace. */
  exec: string[];
  tap: string;
  mac: string;
  /** Direct kernel boot (ipxe.lkrn) with an initrd (an iPXE script). */
  kernel?: string;
  initrd?: string;
  /** UEFI firmware (OVMF) instead of SeaBIOS: a private copy of the variable store in this folder. */
  ovmfVarsDir?: string;
  /** A second NIC (net1), same model and ROM setting. */
  secondNic?: { tap: string; mac: string; romfile?: string };
  /** NIC model; default e1000. */
  nic?: 'e1000' | 'virtio-net-pci';
  /** Option ROM for the NIC: a path, '' for none (the firmware's own PXE stack), undefined for QEMU's default. */
  romfile?: string;
  memoryMb?: number;
  /** More QEMU arguments, e.g. a CD or disk drive and a boot order. */
  extraArgs?: string[];
  deadlineMs: number;
}

export interface Vm {
  /** Resolves with the console so far when a line matches; rejects at the deadline or on exit. */
  waitFor(pattern: RegExp): Promise<string>;
  console(): string;
  exited: Promise<number | null>;
  kill(): void;
  /** Type on the serial console (the firmware's keyboard under -nographic), one key at a time. */
  type(text: string): Promise<void>;
}

export function startVm(o: VmOptions): Vm {
  const args = [
    'qemu-system-x86_64',
    '-accel',
    'tcg',
    '-m',
    String(o.memoryMb ?? 512),
    // -nographic: SeaBIOS and iPXE mirror their console to the serial port, which is our stdout.
    '-nographic',
    '-vga',
    'none',
    '-no-reboot',
    '-netdev',
    `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
    '-device',
    `${o.nic ?? 'e1000'},netdev=n0,mac=${o.mac}${o.romfile === undefined ? '' : `,romfile=${o.romfile}`}`,
  ];
  if (o.secondNic) {
    const romfile = o.secondNic.romfile ?? o.romfile;
    const rom = romfile === undefined ? '' : `,romfile=${romfile}`;
    args.push(
      '-netdev',
      `tap,id=n1,ifname=${o.secondNic.tap},script=no,downscript=no`,
      '-device',
      `${o.nic ?? 'e1000'},netdev=n1,mac=${o.secondNic.mac}${rom}`,
    );
  }
  if (o.ovmfVarsDir) {
    const vars = join(o.ovmfVarsDir, `OVMF_VARS-${o.mac.replace(/:/g, '')}.fd`);
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
    args.push(
      '-drive',
      'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive',
      `if=pflash,format=raw,unit=1,file=${vars}`,
    );
  }
  if (o.kernel) args.push('-kernel', o.kernel);
  if (o.initrd) args.push('-initrd', o.initrd);
  args.push(...(o.extraArgs ?? []));
  return runQemu([...o.exec, ...args], o.deadlineMs);
}

/** Run a QEMU command line (argv, any prefix included) with its console captured, a deadline and kill by PID. */
export function runQemu(argv: string[], deadlineMs: number): Vm {
  const [cmd, ...rest] = argv;
  const child: ChildProcess = spawn(cmd as string, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let held = ''; // an escape sequence not yet complete at the end of a read
  const waiters: { pattern: RegExp; resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
  const onData = (chunk: Buffer) => {
    const text = held + chunk.toString('latin1');
    const esc = text.lastIndexOf('\x1B');
    const open = esc >= 0 && text.length - esc < 32 && !ESCAPE_AT_START.test(text.slice(esc));
    held = open ? text.slice(esc) : '';
    out += screenText(open ? text.slice(0, esc) : text);
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(out);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const timer = setTimeout(() => {
    for (const w of waiters.splice(0))
      w.reject(new Error(`QEMU deadline ${deadlineMs} ms passed waiting for ${w.pattern}; console:\n${tail(out)}`));
    child.kill('SIGKILL');
  }, deadlineMs);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) {
        if (w.pattern.test(out)) w.resolve(out);
        else w.reject(new Error(`QEMU exited (${code}) before ${w.pattern}; console:\n${tail(out)}`));
      }
      resolve(code);
    }),
  );
  return {
    waitFor(pattern) {
      if (pattern.test(out)) return Promise.resolve(out);
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    console: () => out,
    exited,
    async type(text: string) {
      // A 16550 UART holds 16 bytes and firmware polls it: paste a line at once and most of it is lost.
      for (const ch of text) {
        child.stdin?.write(ch);
        await new Promise((r) => setTimeout(r, 15));
      }
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ECMA-48: CSI = ESC [, parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, a final byte 0x40-0x7E; the other
// escape sequences are ESC and one byte (ESC c resets the terminal).
const ESCAPE = '\\x1B(?:\\[[0-?]*[ -/]*[@-~]|[@-Z\\\\-_c])';
const ESCAPES = new RegExp(ESCAPE, 'g');
const ESCAPE_AT_START = new RegExp(`^${ESCAPE}`);

/**
 * The console without the terminal's escape sequences. With -vga none SeaBIOS mirrors the text screen to the serial
 * port (placing the cursor with CSI sequences) while a loader such as PXELINUX (SERIAL) writes the same port itself:
 * a CI run saw `bootherd: v\x1B[25;11H\x1B[25;12Hm-pxe: tiny-linux`. Tests match the text a reader sees; a sequence
 * split across two reads is held until it is whole.
 */
function screenText(raw: string): string {
  return raw.replace(ESCAPES, '');
}

export function tail(s: string): string {
  return s.split('\n').slice(-40).join('\n');
}

/**
 * Waits until `until` shows on the VM's console, or its `failure` line ends the wait at once instead of at the
 * deadline, then stops the VM: the console and the seconds since `started`. A timeout carries the server's log tail.
 */
export async function consoleUntil(
  vm: Vm,
  o: { until: RegExp; failure: RegExp; serverLog: () => string; started: number },
): Promise<{ console: string; seconds: string }> {
  try {
    const console = await vm.waitFor(new RegExp(`${o.until.source}|${o.failure.source}`)).catch((err: Error) => {
      throw new Error(`${err.message}\n--- bootherd log ---\n${o.serverLog().slice(-4000)}`);
    });
    if (!o.until.test(console)) throw new Error(`console:\n${console.slice(-3000)}`);
    return { console, seconds: `${((Date.now() - o.started) / 1000).toFixed(1)} s` };
  } finally {
    vm.kill();
    await vm.exited;
  }
}
