import net from 'node:net';
import { once } from 'node:events';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const MAX_PAYLOAD = 1024;

/** Each bad message with the dead-letter reason it must produce. */
const corpus: Array<{ topic: string; payload: string | Buffer; reason: string }> = [
  { topic: 'devices/bad-1/t', payload: 'not json at all', reason: 'invalid_json' },
  { topic: 'devices/bad-1/t', payload: '[1, 2, 3]', reason: 'not_an_object' },
  { topic: 'devices/bad-1/t', payload: '"a string"', reason: 'not_an_object' },
  { topic: 'devices/bad-1/t', payload: '{"temperature": NaN}', reason: 'non_finite_number' },
  { topic: 'devices/bad-1/t', payload: '{"temperature": Infinity}', reason: 'non_finite_number' },
  { topic: 'devices/bad-1/t', payload: '{"temperature": 1e999}', reason: 'non_finite_number' },
  { topic: 'devices/bad-1/t', payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), reason: 'invalid_utf8' },
  { topic: 'devices/bad-1/t', payload: '{"seq": -4, "temperature": 1}', reason: 'invalid_seq' },
  { topic: 'devices/bad-1/t', payload: '{"ts": "yesterday", "temperature": 1}', reason: 'invalid_ts' },
  { topic: 'devices/bad-1/t', payload: '{"seq": 3}', reason: 'no_values' },
  { topic: 'devices/bad-1/t', payload: '{"samples": [1, 2]}', reason: 'unsupported_value' },
  { topic: 'elsewhere/bad-1', payload: '{"temperature": 1}', reason: 'topic_mismatch' },
  { topic: 'devices/bad-1/t', payload: '', reason: 'empty_payload' },
];

describe('bad input', () => {
  let gateway: Gateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await cleanup?.();
  });

  it('dead-letters every malformed message with its reason, acknowledges it, and keeps serving', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const started = await startTestGateway(temp.dir, { mqtt: { maxPayloadBytes: MAX_PAYLOAD } });
    gateway = started.gateway;
    // Every reason's series exists from the start at 0, before its first dead letter.
    const atStart = gateway.metrics.snapshot();
    for (const reason of ['empty_payload', 'invalid_json', 'payload_too_large', 'too_large']) expect(atStart[`readings_dead_lettered_total{reason="${reason}"}`]).toBe(0);

    const client = await mqtt.connectAsync(started.mqttUrl, { clientId: 'bad-device', reconnectPeriod: 0 });
    // QoS 1: every bad message is still acknowledged (a poison message must not be redelivered forever).
    for (const item of corpus) await client.publishAsync(item.topic, item.payload, { qos: 1 });

    // An oversize PUBLISH is refused from its header: the connection closes before the payload is read.
    const raw = net.connect(started.mqttUrl.split(':')[2] as unknown as number, '127.0.0.1');
    await once(raw, 'connect');
    raw.write(mqttPacket.generate({ cmd: 'connect', clientId: 'oversize-device', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30 }));
    await once(raw, 'data'); // CONNACK
    const header = mqttPacket.generate({ cmd: 'publish', topic: 'devices/big-1/t', payload: Buffer.alloc(MAX_PAYLOAD + 1, 0x20), qos: 1, messageId: 7, retain: false, dup: false });
    raw.write(header.subarray(0, 40)); // the fixed header, the topic and a few payload bytes: the rest is never sent
    raw.on('error', () => undefined);
    await once(raw, 'close');

    // The gateway is still up and still forwards good readings.
    await client.publishAsync('devices/good-1/t', JSON.stringify({ seq: 1, temperature: 22.5 }), { qos: 1 });
    await client.endAsync();

    const letters = await gateway.readDeadLetters(100);
    expect(letters.map((l) => l.entry.reason)).toEqual([...corpus.map((c) => c.reason), 'payload_too_large']);
    const oversize = letters[letters.length - 1]!.entry;
    expect(oversize).toMatchObject({ source: 'mqtt_broker', origin: 'oversize-device', topic: 'devices/big-1/t', declaredBytes: MAX_PAYLOAD + 1 });
    expect(oversize.message).toContain('PUBLISH to devices/big-1/t declared');
    expect(oversize.payloadBase64).toBeUndefined();
    const utf8 = letters.find((l) => l.entry.reason === 'invalid_utf8')!.entry;
    expect(Buffer.from(utf8.payloadBase64!, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(letters[0]!.entry).toMatchObject({ origin: 'bad-device', topic: 'devices/bad-1/t' });

    expect(gateway.metrics.get('readings_dead_lettered_total')).toBe(corpus.length + 1);
    expect(gateway.metrics.get('readings_dead_lettered_total', { reason: 'non_finite_number' })).toBe(3);
    expect(gateway.metrics.get('readings_received_total')).toBe(corpus.length + 2);

    const kinesis = emulatorClient(gateway.kinesisEndpoint!);
    try {
      const records = await waitForStream(kinesis, 'tidegate-telemetry', (r) => r.length >= 1, 20_000);
      expect(records.map((r) => r.deviceId)).toEqual(['good-1']);
    } finally {
      kinesis.destroy();
    }
  });
});
