/**
 * Two DHCPv6 servers on one store (two SQLite connections to one file, as two `bootherd serve` on one data directory
 * or PostgreSQL would be): each pool starts empty, so the second server believes free the address the first one bound.
 * Its claim is refused, its REPLY withheld (`lease-conflict`), and the client's retransmission gets another address.
 * The control: the same two servers committing blind (what DHCPv6 did before it claimed) bind one address to both
 * clients. The sockets are the loop's `Transmit` (replies collected); the store is real.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeMessage, Msg } from '../../src/dhcp6/packet.ts';
import { Lease6Pool } from '../../src/dhcp6/pool.ts';
import { type Dhcp6Exchange, dhcp6Loop } from '../../src/dhcp6/server.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store, StoredLease } from '../../src/store/types.ts';
import { clientMessage, TEST_SUBNET6 } from '../lib/dhcp6-client.ts';

const IFACE = 'lan0';
const dir = mkdtempSync(join(tmpdir(), 'bh-dhcp6-claims-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A rapid-commit SOLICIT (RFC 8415 §18.2.1, §21.14): the server binds and REPLYs at once. */
const solicit = (client: number) => clientMessage(Msg.Solicit, client, IFACE, { rapidCommit: true }, 6);

/** One server: its own pool and DUID, the store's claim (or a blind commit, the control). */
function server(name: string, store: Store, blind = false) {
  const replies: (string | undefined)[] = [];
  const exchanges: Dhcp6Exchange[] = [];
  const drops: string[] = [];
  const waiting: (() => void)[] = [];
  const loop = dhcp6Loop(
    {
      interfaces: [IFACE],
      port: 547,
      pool: new Lease6Pool([TEST_SUBNET6]),
      serverId: Buffer.from(`00030001aac85384${name === 'a' ? '11' : '22'}61`, 'hex'),
      claimLeases: blind
        ? async (changes: StoredLease[]) => {
            await store.commitLeases(changes);
            return [];
          }
        : (changes) => store.claimLeases(changes, { server: name, now: Date.now() }),
      decide: async () => ({ kind: 'ignore', reason: 'not asked' }),
      onExchange: (e) => {
        exchanges.push(e);
        waiting.shift()?.();
      },
      onDrop: (reason) => drops.push(reason),
      warn: () => {},
      serverAddress: () => '2001:db8::1',
    },
    (reply, _port, _address, done) => {
      const m = decodeMessage(reply);
      replies.push(m.ok ? m.message.options.iaNa[0]?.addresses[0]?.address : undefined);
      done(null);
    },
  );
  /** Sends one message and waits for its exchange to end (replied, or dropped). */
  const ask = (client: number) => {
    const ended = new Promise<void>((r) => waiting.push(r));
    loop.push(solicit(client));
    return ended;
  };
  return { ask, replies, exchanges, drops, close: () => loop.close() };
}

describe('DHCPv6 on several servers: every binding is claimed in the store', () => {
  test("an address another server's client holds is refused, not given twice; the retry gets another", {
    timeout: 20_000,
  }, async () => {
    const file = join(dir, 'claims.db');
    const [storeA, storeB] = [await openSqliteStore(file), await openSqliteStore(file)];
    const a = server('a', storeA);
    const b = server('b', storeB);
    await a.ask(1);
    const first = a.replies[0];
    assert.equal(first, '2001:db8::100', 'server a binds the first address of the range');
    // Server b's pool has never heard of it and picks the same address for client 2: the store refuses.
    await b.ask(2);
    assert.deepEqual(b.replies, [], 'no REPLY with an address another client holds');
    assert.deepEqual(b.drops, ['lease-conflict']);
    assert.equal(b.exchanges[0]?.reason, 'lease-conflict');
    // Client 2 retransmits: server b now knows the holder and binds the next free address.
    await b.ask(2);
    assert.equal(b.replies.length, 1);
    assert.notEqual(b.replies[0], first);
    const stored = new Map((await storeA.loadLeases()).map((l) => [l.ip, l]));
    assert.equal(stored.get(first ?? '')?.server, 'a');
    assert.equal(stored.get(b.replies[0] ?? '')?.server, 'b');
    await a.close();
    await b.close();
    await storeA.close();
    await storeB.close();
  });

  test('control: the same two servers committing blind give one address to both clients', {
    timeout: 20_000,
  }, async () => {
    const file = join(dir, 'blind.db');
    const [storeA, storeB] = [await openSqliteStore(file), await openSqliteStore(file)];
    const a = server('a', storeA, true);
    const b = server('b', storeB, true);
    await a.ask(1);
    await b.ask(2);
    assert.equal(a.replies[0], '2001:db8::100');
    assert.equal(b.replies[0], a.replies[0], 'without claims, both clients are bound to one address');
    await a.close();
    await b.close();
    await storeA.close();
    await storeB.close();
  });
});
