/** The registry after some traffic: every bootherd_* series an operator's dashboard reads is there, with its labels. */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Metrics } from '../../../src/core/metrics.ts';
import { LeasePool } from '../../../src/dhcp/pool.ts';
import { decodePacket, encodeAck, encodeRequest, Opcode } from '../../../src/tftp/packet.ts';
import { startTftpServer } from '../../../src/tftp/server.ts';

/** Sends one datagram and returns the first answer (from whichever port the server answers on). */
function ask(s: Socket, buf: Buffer, port: number): Promise<{ msg: Buffer; port: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 2000);
    s.once('message', (msg, r) => {
      clearTimeout(timer);
      resolve({ msg, port: r.port });
    });
    s.send(buf, port, '127.0.0.1');
  });
}

describe('Metrics registry', () => {
  it('TFTP transfers, bytes and the error codes sent, wired as the server wires them', async () => {
    const metrics = new Metrics();
    const root = mkdtempSync(join(tmpdir(), 'bh-metrics-tftp-'));
    writeFileSync(join(root, 'small.bin'), Buffer.alloc(100, 7));
    const server = await startTftpServer({
      host: '127.0.0.1',
      port: 0,
      roots: [root],
      onEvent: (e) => {
        if (e.type === 'transfer-start') return;
        metrics.tftpTransfers.inc({ outcome: e.type === 'transfer-done' ? 'done' : e.aborted ? 'aborted' : 'error' });
        metrics.tftpBytes.inc(e.bytes);
        metrics.tftpRetransmissions.inc(e.retries);
      },
      onErrorSent: (e) => metrics.tftpErrors.inc({ code: e.name }),
    });
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    try {
      const missing = await ask(s, encodeRequest({ op: Opcode.RRQ, filename: 'nope.bin', mode: 'octet' }), server.port);
      const err = decodePacket(missing.msg);
      assert.ok(err.ok && err.packet.op === Opcode.ERROR && err.packet.code === 1);
      const write = await ask(s, encodeRequest({ op: Opcode.WRQ, filename: 'up.bin', mode: 'octet' }), server.port);
      const err2 = decodePacket(write.msg);
      assert.ok(err2.ok && err2.packet.op === Opcode.ERROR && err2.packet.code === 2);
      const data = await ask(s, encodeRequest({ op: Opcode.RRQ, filename: 'small.bin', mode: 'octet' }), server.port);
      assert.equal(data.msg.length, 4 + 100);
      s.send(encodeAck(1), data.port, '127.0.0.1');
      for (let i = 0; i < 100 && server.stats().completed === 0; i++) await new Promise((r) => setTimeout(r, 10));

      const text = await metrics.registry.metrics();
      assert.match(text, /bootherd_tftp_transfers_total\{outcome="done"\} 1/);
      assert.match(text, /bootherd_tftp_transfers_total\{outcome="error"\} 1/);
      assert.match(text, /bootherd_tftp_bytes_total 100/);
      assert.match(text, /# TYPE bootherd_tftp_retransmissions_total counter/);
      assert.match(text, /bootherd_tftp_errors_total\{code="file-not-found"\} 1/);
      assert.match(text, /bootherd_tftp_errors_total\{code="access-violation"\} 1/);
      assert.doesNotMatch(text, /bootherd_tftp_retries_total/);
    } finally {
      s.close();
      await server.close();
    }
  });

  it('DHCP messages, malformed packets, decisions with their source, pool usage per subnet', async () => {
    const metrics = new Metrics();
    const pool = new LeasePool({ subnets: [{ subnet: '192.0.2.0/24', range: ['192.0.2.100', '192.0.2.103'] }] });
    const stop = metrics.watchPool(() => pool.usage());
    const s = pool.subnetFor('192.0.2.1');
    assert.ok(s);
    pool.offer(s, { mac: '52:54:00:00:00:01' }, Date.now());
    metrics.dhcpExchange({ message: 'DISCOVER', outcome: 'offered' });
    metrics.dhcpExchange({ message: 'REQUEST', outcome: 'nak' });
    metrics.dhcpPacket('malformed', 'TRUNCATED_HEADER');
    metrics.decision('http', 'profile', 'machine');
    metrics.decision('dhcp', 'ignore');

    let text = await metrics.registry.metrics();
    assert.match(text, /bootherd_dhcp_messages_total\{message="discover",outcome="offered"\} 1/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="request",outcome="nak"\} 1/);
    assert.match(text, /bootherd_dhcp_messages_total\{message="malformed",outcome="dropped"\} 1/);
    assert.match(text, /bootherd_dhcp_packets_total\{kind="malformed",reason="TRUNCATED_HEADER"\} 1/);
    assert.match(text, /bootherd_boot_decisions_total\{stage="http",kind="profile",source="machine"\} 1/);
    assert.match(text, /bootherd_boot_decisions_total\{stage="dhcp",kind="ignore",source=""\} 1/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="192\.0\.2\.0\/24",state="size"\} 4/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="192\.0\.2\.0\/24",state="offered"\} 1/);
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="192\.0\.2\.0\/24",state="free"\} 3/);
    assert.match(text, /# TYPE bootherd_store_seconds histogram/);

    // Read at scrape time, not at offer time.
    pool.offer(s, { mac: '52:54:00:00:00:02' }, Date.now());
    text = await metrics.registry.metrics();
    assert.match(text, /bootherd_dhcp_pool_addresses\{subnet="192\.0\.2\.0\/24",state="free"\} 2/);
    stop();
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /bootherd_dhcp_pool_addresses\{/);
  });

  it('every metric is named bootherd_* and has help', async () => {
    const metrics = new Metrics();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      assert.match(m.name, /^bootherd_[a-z_]+$/);
      assert.ok(m.help.length > 10, m.name);
    }
  });
});
