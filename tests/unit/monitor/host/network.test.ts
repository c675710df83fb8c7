// readNetwork on this machine against /proc/net/dev while loopback traffic flows; parsing from fixtures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { networkRates, parseNetDev, readNetDev, readNetwork } from '../../../../monitor/api/host/network.ts';
import { createHostSampler } from '../../../../monitor/api/host/host-sampler.ts';
import { procNetDevBytes, sendOverLoopback } from './host-tools.ts';

const TRAFFIC = 4 * 1024 * 1024;

function lo(status: Awaited<ReturnType<typeof readNetwork>>) {
  const iface = status.interfaces.find((i) => i.name === 'lo');
  assert.ok(iface, 'lo is listed');
  return iface;
}

describe('interface counters are /proc/net/dev\'s', () => {
  it('lo\'s byte counters lie between two direct reads of /proc/net/dev', async () => {
    const before = await procNetDevBytes('lo');
    const status = await readNetwork();
    const after = await procNetDevBytes('lo');
    const { rx, tx } = lo(status);
    assert.ok(rx.bytes >= before.rx && rx.bytes <= after.rx, `rx ${rx.bytes} within [${before.rx}, ${after.rx}]`);
    assert.ok(tx.bytes >= before.tx && tx.bytes <= after.tx, `tx ${tx.bytes} within [${before.tx}, ${after.tx}]`);
  });

  it('loopback traffic raises lo\'s counters by at least what was sent', async () => {
    const before = await procNetDevBytes('lo');
    await sendOverLoopback(TRAFFIC);
    const { rx, tx } = lo(await readNetwork());
    assert.ok(rx.bytes >= before.rx + TRAFFIC, `rx grew by ${rx.bytes - before.rx}`);
    assert.ok(tx.bytes >= before.tx + TRAFFIC, `tx grew by ${tx.bytes - before.tx}`);
    assert.ok(rx.packets > 0);
  });

  it('every interface carries the addresses os.networkInterfaces() gives it', async () => {
    const status = await readNetwork();
    const system = networkInterfaces();
    for (const iface of status.interfaces) {
      const expected = (system[iface.name] ?? []).map((a) => a.address).sort();
      assert.deepEqual(iface.addresses.map((a) => a.address).sort(), expected, iface.name);
    }
    assert.ok(lo(status).addresses.some((a) => a.address === '127.0.0.1' && a.cidr === '127.0.0.1/8'));
  });
});

describe('rates are bytes per second since the sampler\'s previous reading', () => {
  it('are above 0 after traffic and equal the counter growth over the interval', async () => {
    let now = Date.now();
    const sampler = createHostSampler({ now: () => now });
    const first = lo(await readNetwork({ sampler }));
    await sendOverLoopback(TRAFFIC);
    now += 1_000; // a poll a second later (readings closer than 100 ms reuse the previous result)
    const status = await readNetwork({ sampler });
    const second = lo(status);
    assert.ok(second.rx.bytes_per_second > 0 && second.tx.bytes_per_second > 0, 'rates after traffic');
    const expected = (second.rx.bytes - first.rx.bytes) / status.interval_seconds;
    assert.ok(Math.abs(second.rx.bytes_per_second - expected) <= expected * 0.01 + 1, `${second.rx.bytes_per_second} ≈ ${expected}`);
    assert.ok(second.rx.bytes_per_second * status.interval_seconds >= TRAFFIC * 0.99);
  });

  it('a counter that went backwards (interface re-created) gives 0, not a negative rate', () => {
    const counters = (bytes: number) => ({ rx: { bytes, packets: 1, errors: 0, drops: 0 }, tx: { bytes, packets: 1, errors: 0, drops: 0 } });
    const { rates } = networkRates(new Map([['eth0', counters(5_000)]]), new Map([['eth0', counters(1_000)], ['new0', counters(10)]]), 2);
    assert.deepEqual(rates.get('eth0'), { rx: 0, tx: 0 });
    assert.deepEqual(rates.get('new0'), { rx: 0, tx: 0 }, 'an interface absent from the previous reading has no rate yet');
  });
});

describe('the /proc/net/dev format', () => {
  it('reads receive and transmit columns by position, interface names with and without padding', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0',
      'vmbr0.100:18446744073709 9 1 2 0 0 0 0 7 3 4 5 0 0 0 0',
    ].join('\n');
    const counters = parseNetDev(text);
    assert.deepEqual([...counters.keys()], ['lo', 'vmbr0.100']);
    assert.deepEqual(counters.get('vmbr0.100'), {
      rx: { bytes: 18446744073709, packets: 9, errors: 1, drops: 2 },
      tx: { bytes: 7, packets: 3, errors: 4, drops: 5 },
    });
  });

  it('the real file parses to every interface it lists', async () => {
    const counters = await readNetDev();
    assert.ok(counters.has('lo'));
    for (const [name, { rx, tx }] of counters) {
      for (const value of [rx.bytes, rx.packets, tx.bytes, tx.packets]) assert.ok(Number.isSafeInteger(value) && value >= 0, name);
    }
  });
});
