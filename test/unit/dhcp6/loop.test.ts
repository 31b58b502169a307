/**
 * The DHCPv6 loop's group commit: REQUESTs decided in one turn of the event loop are bound in one commit, and no
 * REPLY leaves before its binding is durable; a failed commit sends none of them, a refused claim withholds its own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMessage, Msg } from '../../../src/dhcp6/packet.ts';
import { Lease6Pool } from '../../../src/dhcp6/pool.ts';
import { type Dhcp6Exchange, dhcp6Loop, type Transmit } from '../../../src/dhcp6/server.ts';
import type { StoredLease } from '../../../src/store/types.ts';
import { clientMessage, TEST_SUBNET6 } from '../../lib/dhcp6-client.ts';

const SERVER_ID = Buffer.from('00030001aac853841161', 'hex');
const IFACE = 'lan0';

/** A REQUEST for an address (RFC 8415 §18.2.2) from client `i`: DUID-LL of its MAC, our Server Identifier. */
const request = (i: number) => clientMessage(Msg.Request, i, IFACE, { serverId: SERVER_ID });

/** `commit` resolves with the holders of the claims it refuses (none: all durable). */
function loop(commit: (changes: StoredLease[]) => Promise<StoredLease[] | undefined>) {
  const events: string[] = [];
  const exchanges: Dhcp6Exchange[] = [];
  const drops: string[] = [];
  const replies: Buffer[] = [];
  let done: () => void = () => {};
  let expected = 0;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const transmit: Transmit = (reply, _port, address, callback) => {
    events.push(`send ${address}`);
    replies.push(reply);
    callback(null);
  };
  const l = dhcp6Loop(
    {
      interfaces: [IFACE],
      port: 547,
      pool: new Lease6Pool([TEST_SUBNET6]),
      serverId: SERVER_ID,
      claimLeases: async (changes) => {
        events.push(`commit ${changes.length}`);
        const refused = (await commit(changes)) ?? [];
        events.push('durable');
        return refused;
      },
      decide: async () => ({ kind: 'ignore', reason: 'not asked' }),
      onExchange: (e) => {
        exchanges.push(e);
        if (exchanges.length === expected) done();
      },
      onDrop: (reason) => drops.push(reason),
      warn: () => {},
      serverAddress: () => '2001:db8::1',
    },
    transmit,
  );
  const push = (n: number) => {
    expected = n;
    for (let i = 1; i <= n; i++) l.push(request(i));
    return finished;
  };
  return { loop: l, push, events, exchanges, drops, replies };
}

describe('DHCPv6 group commit', () => {
  test('REQUESTs decided in one turn: one commit of all their bindings, the REPLYs only after it is durable', {
    timeout: 10_000,
  }, async () => {
    // The intake starts four at a time in one turn (a fifth may fall into the next batch).
    const t = loop(async () => undefined);
    await t.push(4);
    assert.deepEqual(t.events.slice(0, 2), ['commit 4', 'durable']);
    assert.equal(t.events.filter((e) => e.startsWith('send ')).length, 4);
    assert.deepEqual(
      t.exchanges.map((e) => [e.outcome, e.reply]),
      Array(4).fill(['acked', 'REPLY']),
    );
    const addresses = t.replies.map((r) => {
      const m = decodeMessage(r);
      assert.ok(m.ok);
      return m.message.options.iaNa[0]?.addresses[0]?.address;
    });
    assert.equal(new Set(addresses).size, 4, 'four clients, four addresses');
    await t.loop.close();
  });

  test('a burst of REQUESTs: at most one commit per batch of four, every REPLY after its commit', {
    timeout: 10_000,
  }, async () => {
    const commits: number[] = [];
    const t = loop(async (changes) => {
      commits.push(changes.length);
      return undefined;
    });
    await t.push(12);
    assert.ok(commits.length <= 3, `${commits.length} commits for 12 REQUESTs`);
    assert.equal(
      commits.reduce((a, b) => a + b, 0),
      12,
    );
    // Each send follows a `durable`, never a `commit` still under way.
    let open = false;
    for (const e of t.events) {
      if (e.startsWith('commit')) open = true;
      else if (e === 'durable') open = false;
      else assert.equal(open, false, 'a REPLY left while its commit was under way');
    }
    await t.loop.close();
  });

  test('a failed commit withholds every REPLY of its batch: each is dropped as commit-failed', {
    timeout: 10_000,
  }, async () => {
    const t = loop(async () => {
      throw new Error('disk full');
    });
    await t.push(4);
    assert.deepEqual(t.events, ['commit 4']);
    assert.deepEqual(t.drops, Array(4).fill('commit-failed'));
    assert.deepEqual(
      t.exchanges.map((e) => [e.outcome, e.reason]),
      Array(4).fill(['ignored', 'commit-failed']),
    );
    await t.loop.close();
  });

  test("a refused claim (another server's client holds the address) withholds that REPLY only; the pool learns the holder", {
    timeout: 10_000,
  }, async () => {
    let holder: StoredLease | undefined;
    const t = loop(async (changes) => {
      // The store's answer when another server's client holds the first address claimed.
      const first = changes[0];
      if (!first || holder) return [];
      holder = {
        ip: first.ip,
        mac: '52:54:00:ff:00:01',
        clientId: '00030001525400ff0001',
        state: 'bound',
        expiresAt: Date.now() + 60_000,
        server: 'srv-b',
      };
      return [holder];
    });
    await t.push(4);
    assert.ok(holder);
    assert.equal(t.events.filter((e) => e.startsWith('send ')).length, 3, 'the other three REPLYs leave');
    assert.deepEqual(t.drops, ['lease-conflict']);
    const refused = t.exchanges.find((e) => e.outcome === 'ignored');
    assert.equal(refused?.reason, 'lease-conflict');
    const given = t.replies.map((r) => {
      const m = decodeMessage(r);
      assert.ok(m.ok);
      return m.message.options.iaNa[0]?.addresses[0]?.address;
    });
    assert.ok(!given.includes(holder.ip), `${holder.ip} was given although its claim was refused`);
    // The refused client asks again: another address, since the pool now knows who holds that one.
    const again = t.exchanges.length;
    const next = new Promise<void>((r) => {
      const timer = setInterval(() => {
        if (t.exchanges.length > again) {
          clearInterval(timer);
          r();
        }
      }, 5);
    });
    t.loop.push(request(Number.parseInt(refused?.facts.mac.split(':')[5] ?? '0', 16)));
    await next;
    const last = decodeMessage(t.replies.at(-1) as Buffer);
    assert.ok(last.ok);
    const address = last.message.options.iaNa[0]?.addresses[0]?.address;
    assert.ok(address && address !== holder.ip, `got ${address}`);
    await t.loop.close();
  });
});
