import { describe, it, expect } from 'vitest';
import { malformedLine, malformedMqtt, noiseLine, oversizeLine, oversizeMqtt } from '../../../device-sim/faults/junk.js';
import { jsonBody, LineEncoder, mqttPayload, padJson, type WireReading } from '../../../device-sim/model/encode.js';
import { mulberry32 } from '../../../device-sim/model/random.js';
import { MALFORMED_KINDS } from '../../../device-sim/scenario/schema.js';
// The gateway's own decoder: injected junk must be rejected for exactly the reason it is named after.
import { decodeMessage } from '../../../src/normalize/decode.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';

const T = Date.UTC(2025, 0, 15, 12, 0, 0);
const reading: WireReading = { deviceId: 'th-001', seq: 3, ts: T, boot: '9f3a0c1e', values: { temperature: 21.4, humidity: 45.2, label: 'room 2, "north"', open: true } };

function gatewayDecode(payload: string | Buffer, maxPayloadBytes = 262_144): ReturnType<typeof decodeMessage> {
  return decodeMessage(
    { source: 'mqtt', topic: 'devices/th-001/telemetry', payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), origin: 'test', receivedAt: T },
    { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes },
  );
}

describe('MQTT payloads', () => {
  it('are JSON with seq, ts and boot first, then the values', () => {
    expect(jsonBody(reading, false)).toBe(`{"seq":3,"ts":${T},"boot":"9f3a0c1e","temperature":21.4,"humidity":45.2,"label":"room 2, \\"north\\"","open":true}`);
    expect(JSON.parse(jsonBody(reading, true))).toEqual({ deviceId: 'th-001', seq: 3, ts: T, boot: '9f3a0c1e', ...reading.values });
  });

  it('are accepted by the gateway with boot among the values', () => {
    const r = gatewayDecode(mqttPayload(reading, 0));
    expect(r.ok && r.reading).toMatchObject({ deviceId: 'th-001', seq: 3, ts: T, values: { boot: '9f3a0c1e', temperature: 21.4, open: true } });
  });

  it('pad to exactly payloadBytes, and leave longer readings alone', () => {
    for (const size of [200, 512, 4096]) {
      const json = mqttPayload(reading, size);
      expect(Buffer.byteLength(json)).toBe(size);
      expect((JSON.parse(json) as { pad: string }).pad).toMatch(/^x*$/);
    }
    expect(padJson('{"a":1}', 3)).toBe('{"a":1}');
  });

  for (const kind of MALFORMED_KINDS) {
    it(`malformed "${kind}" is dead-lettered by the gateway as ${kind}`, () => {
      const r = gatewayDecode(malformedMqtt(kind, reading));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.rejection.reason).toBe(kind);
    });
  }

  it('oversize payloads are over the limit and carry no seq', () => {
    const big = oversizeMqtt(reading, 300_000);
    expect(Buffer.byteLength(big)).toBe(300_000);
    expect(JSON.parse(big)).not.toHaveProperty('seq');
    const r = gatewayDecode(big);
    expect(!r.ok && r.rejection.reason).toBe('payload_too_large');
  });
});

describe('serial lines', () => {
  it('jsonl: one JSON object with the device id per line', () => {
    const enc = new LineEncoder('jsonl', '\n');
    const line = enc.line(reading);
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({ deviceId: 'th-001', seq: 3, ts: T, boot: '9f3a0c1e', ...reading.values });
  });

  it('kv: space-separated key=value, strings with spaces quoted', () => {
    expect(new LineEncoder('kv', '\r\n').line(reading)).toBe(
      `deviceId=th-001 seq=3 ts=${T} boot=9f3a0c1e temperature=21.4 humidity=45.2 label="room 2, \\"north\\"" open=true\r\n`,
    );
  });

  it('csv: a header line when the columns change, RFC 4180 quoting', () => {
    const enc = new LineEncoder('csv', '\n');
    const first = enc.line(reading);
    expect(first).toBe(`#deviceId,seq,ts,boot,temperature,humidity,label,open\nth-001,3,${T},9f3a0c1e,21.4,45.2,"room 2, ""north""",true\n`);
    expect(enc.line({ ...reading, seq: 4 })).toBe(`th-001,4,${T},9f3a0c1e,21.4,45.2,"room 2, ""north""",true\n`);
    expect(enc.line({ ...reading, deviceId: 'co2-001', values: { co2: 800 } })).toBe(`#deviceId,seq,ts,boot,co2\nco2-001,3,${T},9f3a0c1e,800\n`);
  });

  it('junk lines end with the line ending, so the next reading is intact', () => {
    for (const framing of ['jsonl', 'csv', 'kv'] as const) {
      const enc = new LineEncoder(framing, '\r\n');
      for (const kind of MALFORMED_KINDS) {
        const line = malformedLine(kind, reading, enc);
        const text = Buffer.isBuffer(line) ? line.toString('latin1') : line;
        // Whole lines only (csv may add a header line before the junk): no stray line feed inside one.
        expect(text.endsWith('\r\n')).toBe(true);
        expect(text.split('\r\n').every((part) => !part.includes('\n'))).toBe(true);
      }
      expect(oversizeLine(reading, 5000, enc)).toHaveLength(5000);
    }
    const noise = noiseLine(mulberry32(1), 32, '\n');
    expect(noise).toHaveLength(33);
    expect([...noise.subarray(0, 32)].includes(0x0a)).toBe(false);
    expect(noise.at(-1)).toBe(0x0a);
  });
});
