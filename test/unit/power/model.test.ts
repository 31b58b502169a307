/**
 * The power block in the inventory: what the file reader and the validator accept, how a bad block is reported
 * (file:line:column and the field, never the value of a password pasted in clear), the export round trip that keeps
 * references as references, where references may point, and the pure pieces of the drivers: the magic packet and
 * the reading of ipmitool's output (the lines are what ipmitool 1.8.19 printed against ipmi_sim).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatInventory, parseInventory } from '../../../src/config/inventory-file.ts';
import { YamlError } from '../../../src/config/reader.ts';
import { BootherdError } from '../../../src/errors.ts';
import { checkPower } from '../../../src/model/validate.ts';
import { ipmiError } from '../../../src/power/ipmi.ts';
import { resolveSecret } from '../../../src/power/secrets.ts';
import { magicPacket } from '../../../src/power/wol.ts';

const doc = (power: string) => `machines:
  - id: m1
    macs: ["52:54:00:00:00:01"]
    power: ${power}
`;

function fails(text: string): YamlError {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (err) {
    assert.ok(err instanceof YamlError, String(err));
    return err;
  }
  assert.fail('accepted');
}

describe('power block', () => {
  it('reads each method, and export writes it back the same', () => {
    const text = `machines:
  - id: ipmi1
    macs: ["52:54:00:00:00:01"]
    power: { ipmi: { host: 192.0.2.10, port: 6230, user: admin, password: { file: ipmi1 } } }
  - id: rf1
    macs: ["52:54:00:00:00:02"]
    power:
      redfish: { url: "https://bmc.example/", user: root, password: { env: BMC_RF1 }, system: System.Embedded.1, insecure: true }
  - id: wol1
    macs: ["52:54:00:00:00:03"]
    power: { wol: { interface: eth1, mac: "52-54-00-00-00-0A" } }
`;
    const inv = parseInventory(text, 'inv.yaml');
    assert.deepEqual(
      inv.machines.map((m) => m.power),
      [
        { ipmi: { host: '192.0.2.10', port: 6230, user: 'admin', password: { file: 'ipmi1' } } },
        {
          redfish: {
            url: 'https://bmc.example',
            user: 'root',
            password: { env: 'BMC_RF1' },
            system: 'System.Embedded.1',
            insecure: true,
          },
        },
        { wol: { interface: 'eth1', mac: '52:54:00:00:00:0a' } },
      ],
    );
    assert.deepEqual(parseInventory(formatInventory(inv), 'again.yaml'), inv);
  });

  it('a password in clear is refused at its line, and not repeated', () => {
    const err = fails(doc('{ ipmi: { host: 192.0.2.10, user: admin, password: "hunter2-secret" } }'));
    assert.equal(err.line, 4);
    assert.equal(err.field, 'machines[0].power.ipmi.password');
    assert.match(err.message, /never the password itself/);
    assert.ok(!err.message.includes('hunter2-secret'));
  });

  it('names the field of every other mistake', () => {
    const cases: [string, RegExp][] = [
      ['{ ipmi: { host: h, user: u, password: { file: x } }, wol: { interface: eth0 } }', /exactly one/],
      ['{ ipmi: { host: h, user: u, password: { file: ../../secret.key } } }', /file name in data_dir\/bmc-secrets/],
      ['{ ipmi: { host: h, user: u, password: { file: /etc/shadow } } }', /file name in data_dir\/bmc-secrets/],
      ['{ ipmi: { host: h, user: u, password: { env: HOME } } }', /BMC_<NAME>/],
      ['{ ipmi: { host: h, user: u, password: { env: BMC_X, file: y } } }', /must be a reference/],
      ['{ ipmi: { host: h, user: u, port: 70000, password: { env: BMC_X } } }', /UDP port/],
      ['{ ipmi: { host: h, usr: u, password: { env: BMC_X } } }', /unknown field/],
      ['{ redfish: { url: "http://bmc", user: u, password: { env: BMC_X } } }', /https:\/\//],
      ['{ redfish: { url: "https://u:p@bmc", user: u, password: { env: BMC_X } } }', /credentials/],
      ['{ redfish: { url: "https://bmc", user: u, password: { env: BMC_X }, insecure: yes please } }', /true or false/],
      ['{ wol: { interface: "eth0; reboot" } }', /interface name/],
      ['{ wol: { interface: eth0, mac: nope } }', /not a MAC/],
      ['{ power: on }', /unknown field/],
    ];
    for (const [power, reason] of cases) {
      const err = fails(doc(power));
      assert.match(err.message, reason, power);
      assert.match(err.message, /^inv\.yaml:4:\d+: machines\[0\]\.power/, `${power}: ${err.message}`);
    }
  });

  it('Wake-on-LAN needs a MAC from the record or the block', () => {
    assert.throws(
      () =>
        parseInventory('machines:\n  - id: m\n    hostname: m\n    power: { wol: { interface: eth0 } }\n', 'i.yaml'),
      /no MAC to wake/,
    );
  });

  it('checkPower takes what the API sends and rejects what the schema cannot judge', () => {
    assert.throws(() => checkPower('power', { ipmi: { host: 'h\nx', user: 'u', password: { env: 'BMC_A' } } }), {
      message: /power\/ipmi\/host: control characters/,
    });
    assert.throws(() => checkPower('power', {}), { message: /exactly one/ });
  });
});

describe('secret references', () => {
  it('reads a file from the secrets folder, without its trailing newline, and an environment variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-secrets-'));
    writeFileSync(join(dir, 'bmc1'), 'pass word\n');
    assert.equal(resolveSecret({ file: 'bmc1' }, dir), 'pass word');
    process.env.BMC_UNIT_TEST = 'from-env';
    try {
      assert.equal(resolveSecret({ env: 'BMC_UNIT_TEST' }, dir), 'from-env');
    } finally {
      delete process.env.BMC_UNIT_TEST;
    }
    for (const ref of [{ file: 'missing' }, { env: 'BMC_UNIT_UNSET' }]) {
      assert.throws(
        () => resolveSecret(ref, dir),
        (e: unknown) => e instanceof BootherdError && e.code === 'POWER_SECRET',
      );
    }
    writeFileSync(join(dir, 'empty'), '\n');
    assert.throws(() => resolveSecret({ file: 'empty' }, dir), /is empty/);
  });
});

describe('driver pieces', () => {
  it('magic packet: 6 × 0xFF then the MAC 16 times, 102 bytes', () => {
    const p = magicPacket('01:23:45:67:89:ab');
    assert.equal(p.length, 102);
    assert.equal(p.subarray(0, 6).toString('hex'), 'ffffffffffff');
    for (let i = 0; i < 16; i++) assert.equal(p.subarray(6 + i * 6, 12 + i * 6).toString('hex'), '0123456789ab');
  });

  it("ipmitool's output: bad password, unknown user, no BMC, a refused command", () => {
    const code = (out: string) => ipmiError('admin@h:623', { code: 1, out }).code;
    const fail = 'Error: Unable to establish IPMI v2 / RMCP+ session\n';
    assert.equal(code(`Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\n${fail}`), 'POWER_AUTH');
    assert.equal(code(`RAKP 2 message indicates an error : unauthorized name\n${fail}`), 'POWER_AUTH');
    assert.equal(
      code(`Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\n${fail}`),
      'POWER_UNREACHABLE',
    );
    assert.equal(code('Set Chassis Power Control to Reset failed: Invalid data field in request\n'), 'POWER_FAILED');
  });
});
