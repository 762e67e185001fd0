import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { conservationGap } from '../../src/buffer/conservation.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { KINESIS_SINK_ID } from '../../src/sinks/kinesis/limits.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('a configured transform in the running gateway', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('acknowledges filtered readings, counts them as filtered in the persisted ledger, and the ledger balances', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const { gateway, mqttUrl } = await startTestGateway(temp.dir, { transforms: [{ type: 'drop_fields', fields: ['debug'] }] });
    let stopped = false;
    closers.push(async () => {
      if (!stopped) await gateway.stop(AbortSignal.timeout(10_000));
    });
    const device = await mqtt.connectAsync(mqttUrl, { clientId: 'th-1', reconnectPeriod: 0 });
    closers.push(() => device.endAsync(true));

    // publishAsync at QoS 1 resolves on the PUBACK: the filtered ones are acknowledged like the others.
    for (let i = 0; i < 3; i++) await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ debug: `trace-${i}` }), { qos: 1 });
    for (let i = 0; i < 2; i++) await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: i, t: 20 + i, debug: 'x' }), { qos: 1 });
    await device.publishAsync('devices/th-1/telemetry', 'not json', { qos: 1 });

    const live = gateway.bufferStats();
    expect(live).toMatchObject({ received: 6, filtered: 3, consumed: 0, produced: 0, deadLettered: { invalid_json: 1 } });
    expect(live.buffered + live.delivered).toBe(2);
    expect(conservationGap(live)).toBe(0);

    await gateway.stop(AbortSignal.timeout(10_000));
    stopped = true;
    // What is on disk, read back by a fresh store: the filtered count was committed with the readings.
    const store = new LevelBuffer({ dir: temp.dir, gatewayId: 'test-gw', durability: 'fsync', commitIntervalMs: 0, maxCommitRecords: 100, sinkIds: [KINESIS_SINK_ID], inspectOnly: true });
    await store.open();
    closers.push(() => store.close());
    const persisted = store.stats();
    expect(persisted).toMatchObject({ received: 6, filtered: 3, deadLettered: { invalid_json: 1 } });
    expect(conservationGap(persisted)).toBe(0);
    // Readings still buffered carry no dropped field (delivered ones left the store).
    for (const record of await store.read('telemetry', 0, 10)) expect(JSON.parse(record.data.toString()).values).not.toHaveProperty('debug');
  });
});
