/**
 * BENCH_FLOOR=1: a bare `node:http` server beside bootherd and nginx in the script row, to show where one Node event
 * loop's ceiling is on this machine for wrk's keep-alive requests, apart from bootherd's own work. It answers each
 * machine's script path with the bytes bootherd rendered for it (read once at start from the copies nginx serves):
 * a map lookup and a `res.end`, no router, no inventory, no policy, no event, no metrics.
 * Run by run.ts: `node --import tsx bench/http/floor.ts <port> <scripts folder>`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { MACHINES, macOf, scriptPath } from './script-row.ts';

/** Serves `scripts/<mac>.ipxe` at each machine's script path (script-row.ts) on 127.0.0.1:`port`. */
export function floorHttp(port: number, scripts: string): void {
  const names = new Set(readdirSync(scripts));
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < MACHINES; i++) {
    const file = `${macOf(i).replace(/:/g, '-')}.ipxe`;
    if (names.has(file)) bodies.set(scriptPath(i), readFileSync(join(scripts, file)));
  }
  createServer((req, res) => {
    const body = bodies.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
    res.end(body);
  }).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
}

if (process.argv[1] && import.meta.filename === process.argv[1])
  floorHttp(Number(process.argv[2]), process.argv[3] as string);
