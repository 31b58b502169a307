/**
 * A QEMU VM with no network that boots a disk image (an ESP) under OVMF, with its serial console captured so a test
 * can wait for a line. TCG, a hard deadline, killed by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EspVmOptions {
  /** Attached as a virtio disk. */
  image: string;
  /** Folder for this VM's private copy of the OVMF variable store. */
  workDir: string;
  deadlineMs: number;
}

export interface EspVm {
  waitFor(pattern: RegExp): Promise<string>;
  console(): string;
  exited: Promise<number | null>;
  kill(): void;
}

let seq = 0;

export function startEspVm(o: EspVmOptions): EspVm {
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
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { pattern: RegExp; resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString('latin1');
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
      w.reject(new Error(`QEMU deadline ${o.deadlineMs} ms passed waiting for ${w.pattern}; console:\n${tail(out)}`));
    kill();
  }, o.deadlineMs);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      out += `\n[could not start qemu-system-x86_64: ${err.message}]`;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) {
        if (w.pattern.test(out)) w.resolve(out);
        else w.reject(new Error(`QEMU exited (${code}) before ${w.pattern}; console:\n${tail(out)}`));
      }
      resolve(code);
    });
  });
  function kill() {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  return {
    waitFor(pattern) {
      if (pattern.test(out)) return Promise.resolve(out);
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    console: () => out,
    exited,
    kill,
  };
}

/** The console without terminal escapes and carriage returns, last 40 non-empty lines. */
export function tail(s: string): string {
  return s
    .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?=]*[A-Za-z]`, 'g'), '')
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-40)
    .join('\n');
}
