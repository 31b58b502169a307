/**
 * Every BMC call has a deadline. A BMC that takes the connection (Redfish: TCP accepted, TLS never answered; IPMI:
 * a UDP port that swallows the RMCP+ packets) must end in POWER_TIMEOUT, not a hang; the ipmitool process is
 * killed by its PID and is gone afterwards. Real ipmitool: this test fails without the Debian package.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { BootherdError } from '../../../src/errors.ts';
import { ipmiDriver } from '../../../src/power/ipmi.ts';
import { redfishDriver } from '../../../src/power/redfish.ts';

const isTimeout = (e: unknown) => e instanceof BootherdError && e.code === 'POWER_TIMEOUT';

describe('BMC deadlines', () => {
  it('Redfish: a BMC that accepts and never answers times out', async () => {
    const held: Socket[] = [];
    const server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const d = redfishDriver(
        { url: `https://127.0.0.1:${port}`, user: 'u', password: { env: 'BMC_X' }, system: '1', insecure: true },
        { password: 'p', timeoutMs: 300 },
      );
      await assert.rejects(d.status(), isTimeout);
    } finally {
      for (const s of held) s.destroy();
      server.close();
    }
  });

  it('IPMI: ipmitool waiting on a silent BMC is killed at the deadline', async () => {
    assert.ok(existsSync('/usr/bin/ipmitool'), 'ipmitool missing: install the Debian package ipmitool');
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const port = silent.address().port;
    try {
      const d = ipmiDriver(
        { host: '127.0.0.1', port, user: 'admin', password: { env: 'BMC_X' } },
        {
          password: 'p',
          timeoutMs: 500,
        },
      );
      await assert.rejects(d.status(), isTimeout);
      let left = '';
      try {
        left = execFileSync('pgrep', ['-f', `ipmitool .*-p ${port} `]).toString();
      } catch {
        // pgrep exits 1 when nothing matches: the process is gone
      }
      assert.equal(left, '', 'the ipmitool process was killed');
    } finally {
      silent.close();
    }
  });
});
