/**
 * DHCP reservations follow the inventory without a restart: a machine given an `ip` through the REST API (HTTPS,
 * from inside the test network) is offered that address at its next DISCOVER by the same running server, even when
 * another machine's address is on a network this server does not serve.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cli } from '../lib/cli.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { udhcpcOnce, writeUdhcpcScript } from './lib/udhcpc.ts';

const run = promisify(execFile);

const CONFIG = (ip: string) => `
data_dir: data
inventory: inventory.yaml
http: { listen: ${ip}, port: 8080, advertise: "http://${ip}:8080", assets: assets, tls: { port: 8443 } }
dhcp:
  mode: full
  interfaces: [br0]
  subnets:
    - subnet: 192.0.2.0/24
      range: [192.0.2.100, 192.0.2.120]
      lease_time: 600
`;
const INVENTORY = `
profiles:
  - name: disk
    local: true
`;
const MAC = '02:00:00:00:00:77';

describe('DHCP reservations follow the inventory', () => {
  let net: TestNet;
  let server: RunningBootherd;

  before(async () => {
    net = createTestNet();
    server = await startBootherd({
      exec: net.exec,
      config: CONFIG(net.serverIp),
      inventory: INVENTORY,
      readyPattern: /DHCP\s+full mode/,
    });
  });

  after(async () => {
    await server?.stop();
    net?.destroy();
  });

  it('a machine created through the API gets its reserved address at the next DISCOVER, no restart', {
    timeout: 90_000,
  }, async () => {
    const script = writeUdhcpcScript(server.dir);
    const client = net.addClient('m77', MAC);
    // Control: unknown to the inventory, the client gets an address from the range.
    const before = await udhcpcOnce(client, script);
    assert.match(before, /^192\.0\.2\.1[01]\d$|^192\.0\.2\.120$/, before);

    const created = await cli(['token', 'create', '--scope', 'write', '--name', 'e2e', '-c', server.config]);
    assert.equal(created.code, 0, created.stderr);
    // The secret goes to curl in a header file, not on its command line.
    const headers = join(server.dir, 'api-headers');
    writeFileSync(
      headers,
      `authorization: Bearer ${created.stdout.trim().split('\n').at(-1)}\ncontent-type: application/json\n`,
      { mode: 0o600 },
    );
    const post = async (machine: object) => {
      const [cmd, ...args] = [
        ...net.exec,
        'curl',
        '-sS',
        '--max-time',
        '10',
        '--cacert',
        join(server.dir, 'data', 'tls', 'cert.pem'),
        '-H',
        `@${headers}`,
        '-w',
        '\\n%{http_code}',
        '--data-binary',
        JSON.stringify(machine),
        `https://${net.serverIp}:8443/api/v1/machines`,
      ];
      const res = await run(cmd as string, args, { timeout: 20_000 }).catch((e: Error) => ({
        stdout: String(e),
        stderr: '',
      }));
      assert.match(res.stdout, /\n201$/, res.stdout + res.stderr + server.log());
    };
    // A machine whose address is on a network this server does not serve must not stall every other reservation.
    await post({ id: 'elsewhere', macs: ['02:00:00:00:00:78'], ip: '198.51.100.5', profile: 'disk' });
    await post({ id: 'm77', macs: [MAC], hostname: 'm77', ip: '192.0.2.77', profile: 'disk' });

    const afterApi = await udhcpcOnce(client, script);
    assert.equal(afterApi, '192.0.2.77', `the reservation, from the same running server:\n${server.log()}`);
    assert.match(
      server.log(),
      /machine \\"elsewhere\\" not reserved: reservation 198\.51\.100\.5 is in no configured subnet/,
    );
  });
});
