/**
 * The intake both servers read their sockets through: the same bounded queues for DHCPv4 (option 53) and DHCPv6
 * (the msg-type octet). A flood of DISCOVERs or SOLICITs neither starves the REQUESTs that finish boots nor grows past
 * its bound: the excess is shed and counted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { INTAKE_BOUNDS, Intake, type IntakeOptions } from '../../../src/dhcp/intake.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { classifyDhcp4, type Datagram } from '../../../src/dhcp/server.ts';
import { encodeMessage, Msg } from '../../../src/dhcp6/packet.ts';
import { classifyDhcp6, type Datagram6 } from '../../../src/dhcp6/server.ts';
import { v4Datagram } from '../../lib/dhcp-datagram.ts';

const v4 = (name: string, messageType: number, onProxyPort = false, at = performance.now()): Datagram =>
  v4Datagram({ messageType }, { from: name, onProxyPort, at });

function v6(name: string, type: number): Datagram6 {
  const clientId = Buffer.from('00030001525400000001', 'hex');
  const msg = encodeMessage({ type, xid: 1, options: { clientId, iaNa: [{ iaid: 1, t1: 0, t2: 0, addresses: [] }] } });
  return { msg, from: name, port: 546, at: performance.now() };
}

/** Runs the intake until every datagram pushed was handled or shed (bounded in turns, not in time). */
async function drain(handled: string[], shed: string[], total: number): Promise<void> {
  for (let turns = 0; handled.length + shed.length < total && turns < 10_000; turns++) await tick();
  assert.equal(handled.length + shed.length, total, 'every datagram handled or shed');
}

function floodTests<D extends { at: number }>(
  family: string,
  classify: IntakeOptions<D>['classify'],
  name: (d: D) => string,
  discover: (name: string) => D,
  request: (name: string) => D,
): void {
  const start = () => {
    const handled: string[] = [];
    const shed: string[] = [];
    // The servers' bounds; the wait limit raised so a slow machine sheds by count only.
    const intake = new Intake<D>({
      ...INTAKE_BOUNDS,
      discoverMaxWaitMs: 3_600_000,
      classify,
      handle: async (d) => {
        handled.push(name(d));
      },
      shed: (reason, d) => shed.push(`${reason} ${name(d)}`),
    });
    return { intake, handled, shed };
  };

  describe(`Intake, ${family}`, () => {
    test('a flood of DISCOVERs does not starve REQUESTs; the flood past its bound is shed and counted', async () => {
      const { intake, handled, shed } = start();
      const flood = INTAKE_BOUNDS.discoverMax + 88;
      // The flood arrives first, then one batch is worked off, then REQUESTs come in behind the rest of it.
      for (let i = 0; i < flood; i++) intake.push(discover(`d${i}`));
      await tick();
      const before = handled.length;
      assert.ok(before > 0 && before <= INTAKE_BOUNDS.batch, 'one batch, not the whole flood, per turn');
      for (let i = 0; i < 20; i++) intake.push(request(`r${i}`));
      await drain(handled, shed, flood + 20);
      assert.deepEqual(
        handled.slice(before, before + 20),
        Array.from({ length: 20 }, (_, i) => `r${i}`),
        'the REQUESTs are the next ones handled',
      );
      assert.equal(shed.filter((s) => s.startsWith('shed-discover ')).length, 88);
      assert.equal(shed.filter((s) => s.startsWith('shed-request ')).length, 0);
      assert.equal(handled.length, INTAKE_BOUNDS.discoverMax + 20);
      intake.close();
    });

    test('a full REQUEST queue sheds the newest as shed-request', async () => {
      const { intake, handled, shed } = start();
      const n = INTAKE_BOUNDS.urgentMax + 3;
      for (let i = 0; i < n; i++) intake.push(request(`r${i}`));
      assert.deepEqual(shed, [`shed-request r${n - 3}`, `shed-request r${n - 2}`, `shed-request r${n - 1}`]);
      await drain(handled, shed, n);
      assert.equal(handled.length, INTAKE_BOUNDS.urgentMax);
      intake.close();
    });
  });
}

floodTests(
  'DHCPv4',
  classifyDhcp4,
  (d) => d.from.address,
  (n) => v4(n, MessageType.Discover),
  (n) => v4(n, MessageType.Request),
);
floodTests(
  'DHCPv6',
  classifyDhcp6,
  (d) => d.from,
  (n) => v6(n, Msg.Solicit),
  (n) => v6(n, Msg.Request),
);

describe('classifiers', () => {
  test('DHCPv4: REQUEST, DECLINE, RELEASE, INFORM and anything on the proxy port are urgent', () => {
    const urgent = [MessageType.Request, MessageType.Decline, MessageType.Release, MessageType.Inform];
    for (const t of urgent) assert.equal(classifyDhcp4(v4('x', t)), 'urgent', `type ${t}`);
    assert.equal(classifyDhcp4(v4('x', MessageType.Discover)), 'discover');
    assert.equal(classifyDhcp4(v4('x', MessageType.Discover, true)), 'urgent');
    assert.equal(classifyDhcp4({ ...v4('x', MessageType.Request), msg: Buffer.alloc(10) }), 'discover');
  });

  test('DHCPv6: SOLICIT and the rest wait; REQUEST, RENEW, REBIND, CONFIRM, RELEASE, DECLINE, INFORMATION-REQUEST first', () => {
    const urgent = [Msg.Request, Msg.Renew, Msg.Rebind, Msg.Confirm, Msg.Release, Msg.Decline, Msg.InformationRequest];
    for (const t of urgent) assert.equal(classifyDhcp6(v6('x', t)), 'urgent', `type ${t}`);
    for (const t of [Msg.Solicit, Msg.Advertise, Msg.Reply, Msg.RelayForw]) {
      assert.equal(classifyDhcp6(v6('x', t)), 'discover', `type ${t}`);
    }
    assert.equal(classifyDhcp6({ ...v6('x', Msg.Request), msg: Buffer.alloc(0) }), 'discover');
  });

  test('REQUESTs before DISCOVERs; a full queue sheds the newest; a stale DISCOVER is shed', async () => {
    const handled: string[] = [];
    const shed: string[] = [];
    const intake = new Intake<Datagram>({
      classify: classifyDhcp4,
      urgentMax: 2,
      discoverMax: 3,
      discoverMaxWaitMs: 60_000,
      batch: 100,
      budgetMs: 1_000,
      handle: async (d) => {
        handled.push(d.from.address);
      },
      shed: (reason, d) => shed.push(`${reason} ${d.from.address}`),
    });
    const now = performance.now();
    const named = (name: string, type: number, at = now): Datagram => v4(name, type, false, at);
    for (const n of ['d1', 'd2', 'd3', 'd4']) intake.push(named(n, MessageType.Discover));
    for (const n of ['r1', 'r2', 'r3']) intake.push(named(n, MessageType.Request));
    await tick();
    await tick();
    assert.deepEqual(handled, ['r1', 'r2', 'd1', 'd2', 'd3']);
    assert.deepEqual(shed, ['shed-discover d4', 'shed-request r3']);

    const old = new Intake<Datagram>({
      classify: classifyDhcp4,
      urgentMax: 10,
      discoverMax: 10,
      discoverMaxWaitMs: 100,
      batch: 100,
      budgetMs: 1_000,
      handle: async (d) => {
        handled.push(d.from.address);
      },
      shed: (reason, d) => shed.push(`${reason} ${d.from.address}`),
    });
    old.push(named('stale', MessageType.Discover, now - 1_000));
    old.push(named('fresh', MessageType.Discover));
    await tick();
    await tick();
    assert.deepEqual(handled.slice(-1), ['fresh']);
    assert.deepEqual(shed.slice(-1), ['shed-discover stale']);
  });
});
