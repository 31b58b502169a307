/**
 * Running the Debian tools boot media are made with (xorriso, mtools, apt-get, dpkg-deb): argv only, never a shell;
 * a missing tool names the package to install; a failure carries the tool's last lines, not a stack trace.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BootherdError } from '../errors.ts';

const run = promisify(execFile);

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  /** The Debian package that ships the command. */
  pkg: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeout?: number;
  /** A failure's message, from its output; default: `<cmd> failed: <last lines>`. */
  explain?: (output: string) => string | undefined;
}

export function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

export async function runTool(cmd: string, args: string[], o: ToolOptions): Promise<ToolOutput> {
  const timeout = o.timeout ?? 60_000;
  try {
    const r = await run(cmd, args, {
      env: o.env ?? process.env,
      timeout,
      maxBuffer: 16 * 1024 * 1024,
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & Partial<ToolOutput> & { killed?: boolean };
    if (e.code === 'ENOENT') {
      throw new BootherdError(
        'TOOL_MISSING',
        `${cmd} not found on PATH: install the Debian package ${o.pkg} (apt-get install ${o.pkg})`,
      );
    }
    if (e.killed) throw new BootherdError('MEDIA', `${cmd} ${args.at(-1)} took longer than ${timeout} ms`);
    const text = `${e.stderr ?? ''}${e.stdout ?? ''}` || e.message;
    throw new BootherdError('MEDIA', o.explain?.(text) ?? `${cmd} failed: ${lastLines(text)}`);
  }
}
