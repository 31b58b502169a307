/**
 * Durability tests of a store engine: a child process writes in a loop and prints `ack <id>` only after each write's
 * promise resolved; it is killed with SIGKILL once `count` are acknowledged. The ids acknowledged come back, for the
 * test to find every one of them in the database.
 */
import { spawn } from 'node:child_process';

/** `loop` is the body of an async function run in the child, given `ack(id)`; it should write forever. */
export async function ackedBeforeKill(loop: string, count = 20): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const ack = (id) => process.stdout.write('ack ' + id + '\\n');\n(async () => {${loop}})();`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child acknowledged nothing within 20 s')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= count) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  return acked;
}
