import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketSizeGuard, type PacketLimits, type Violation } from '../../src/sources/mqtt-broker/packet-size-guard.js';

const LIMITS: PacketLimits = { maxPayloadBytes: 1_000, maxOtherPacketBytes: 500 };
const TOPIC = 'devices/d1/telemetry';
const CONNECT = 1;
const PUBLISH = 3;

function publish(payloadBytes: number, qos: 0 | 1 | 2 = 1, topic = TOPIC): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(payloadBytes, 0x61), qos, messageId: qos > 0 ? 1 : undefined, dup: false, retain: false });
}

function connect(willPayloadBytes: number): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'client-1',
    clean: true,
    keepalive: 60,
    will: { topic: 'status/client-1', payload: Buffer.alloc(willPayloadBytes, 0x62), qos: 0, retain: false },
  });
}

const pingreq = (): Buffer => mqttPacket.generate({ cmd: 'pingreq' });

/** Decodes the remaining length of a generated packet: [value, bytes in the fixed header]. */
function fixedHeader(packet: Buffer): { remaining: number; headerBytes: number } {
  let remaining = 0;
  let multiplier = 1;
  let pos = 1;
  for (;;) {
    const byte = packet[pos]!;
    remaining += (byte & 0x7f) * multiplier;
    pos += 1;
    if ((byte & 0x80) === 0) return { remaining, headerBytes: pos };
    multiplier *= 128;
  }
}

/** Feeds the bytes one chunk at a time and returns every non-null verdict with the chunk index. */
function feed(guard: PacketSizeGuard, chunks: Uint8Array[]): Array<{ at: number; violation: Violation }> {
  const out: Array<{ at: number; violation: Violation }> = [];
  chunks.forEach((chunk, at) => {
    const violation = guard.inspect(chunk);
    if (violation) out.push({ at, violation });
  });
  return out;
}

const bytesOf = (buf: Buffer): Uint8Array[] => [...buf].map((b) => Uint8Array.of(b));

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('PacketSizeGuard: PUBLISH payload limit', () => {
  it('passes a QoS 1 publish whose payload is exactly maxPayloadBytes', () => {
    expect(new PacketSizeGuard(LIMITS).inspect(publish(1_000, 1))).toBeNull();
  });

  it('passes a QoS 0 publish (no packet id) whose payload is exactly maxPayloadBytes', () => {
    expect(new PacketSizeGuard(LIMITS).inspect(publish(1_000, 0))).toBeNull();
  });

  it.each([0, 1, 2] as const)('reports QoS %d one byte over, with its topic, before its body arrives', (qos) => {
    const packet = publish(1_001, qos);
    const { headerBytes } = fixedHeader(packet);
    const guard = new PacketSizeGuard(LIMITS);
    // Not yet: the topic has not arrived.
    expect(guard.inspect(packet.subarray(0, 10))).toBeNull();
    expect(guard.inspect(packet.subarray(10, headerBytes + 2 + TOPIC.length))).toEqual({ packetType: PUBLISH, declaredBytes: 1_001, reason: 'payload_too_large', topic: TOPIC });
  });

  it('reports an oversize publish with a topic over 1,024 bytes at once, without its topic', () => {
    const longTopic = `devices/${'d'.repeat(2_000)}/telemetry`;
    const packet = publish(1_001, 1, longTopic);
    const { headerBytes } = fixedHeader(packet);
    expect(new PacketSizeGuard(LIMITS).inspect(packet.subarray(0, headerBytes + 2))).toEqual({ packetType: PUBLISH, declaredBytes: 1_001, reason: 'payload_too_large' });
  });

  it('reports a payload over a large limit that needs a 3-byte remaining length', () => {
    const limits = { maxPayloadBytes: 256 * 1024, maxOtherPacketBytes: 500 };
    const packet = publish(256 * 1024 + 1);
    expect(fixedHeader(packet).headerBytes).toBe(4);
    expect(new PacketSizeGuard(limits).inspect(packet.subarray(0, 40))).toEqual({ packetType: PUBLISH, declaredBytes: 256 * 1024 + 1, reason: 'payload_too_large', topic: TOPIC });
    expect(new PacketSizeGuard(limits).inspect(publish(256 * 1024))).toBeNull();
  });

  it('decides on the fixed header, the topic length and the topic, one byte at a time', () => {
    const packet = publish(1_001);
    const { headerBytes } = fixedHeader(packet);
    const verdicts = feed(new PacketSizeGuard(LIMITS), bytesOf(packet));
    // The verdict comes with the last byte of the topic, and only once.
    expect(verdicts).toEqual([{ at: headerBytes + 1 + TOPIC.length, violation: { packetType: PUBLISH, declaredBytes: 1_001, reason: 'payload_too_large', topic: TOPIC } }]);
  });

  it('passes an allowed publish fed one byte at a time', () => {
    expect(feed(new PacketSizeGuard(LIMITS), bytesOf(publish(1_000)))).toEqual([]);
  });

  it('reports a topic-length byte pair split across chunks', () => {
    const packet = publish(1_001);
    const { headerBytes } = fixedHeader(packet);
    const guard = new PacketSizeGuard(LIMITS);
    expect(guard.inspect(packet.subarray(0, headerBytes + 1))).toBeNull();
    expect(guard.inspect(packet.subarray(headerBytes + 1, headerBytes + 2))).toBeNull();
    expect(guard.inspect(packet.subarray(headerBytes + 2))?.reason).toBe('payload_too_large');
  });

  it('accounts for the topic length: a long topic leaves room for the same remaining length', () => {
    const longTopic = `devices/${'d'.repeat(200)}/telemetry`;
    expect(new PacketSizeGuard(LIMITS).inspect(publish(1_000, 1, longTopic))).toBeNull();
  });
});

describe('PacketSizeGuard: streams of packets', () => {
  it('passes several allowed packets in one chunk', () => {
    const stream = Buffer.concat([connect(10), publish(1_000), pingreq(), publish(0, 0), publish(999, 2)]);
    expect(new PacketSizeGuard(LIMITS).inspect(stream)).toBeNull();
  });

  it('finds the oversize packet behind allowed ones in the same chunk', () => {
    const stream = Buffer.concat([publish(10), pingreq(), publish(1_000), publish(1_001), publish(5)]);
    expect(new PacketSizeGuard(LIMITS).inspect(stream)).toEqual({ packetType: PUBLISH, declaredBytes: 1_001, reason: 'payload_too_large', topic: TOPIC });
  });

  it('tracks packet boundaries across arbitrary chunk splits', () => {
    const allowed = Buffer.concat([publish(1_000), pingreq(), publish(3, 0), connect(100), publish(700)]);
    for (const size of [1, 2, 3, 7, 64, 1_000]) {
      expect(feed(new PacketSizeGuard(LIMITS), split(allowed, size))).toEqual([]);
      const withOversize = Buffer.concat([allowed, publish(1_001)]);
      const verdicts = feed(new PacketSizeGuard(LIMITS), split(withOversize, size));
      expect(verdicts.map((v) => v.violation.reason)).toEqual(['payload_too_large']);
    }
  });

  it('reports only the first violation and then stays silent', () => {
    const guard = new PacketSizeGuard(LIMITS);
    expect(guard.inspect(publish(1_001).subarray(0, 40))).not.toBeNull();
    expect(guard.inspect(publish(5_000))).toBeNull();
  });

  it('skips the body of a PUBLISH with a remaining length below 2 and goes on', () => {
    // A malformed, empty PUBLISH (remaining length 0) followed by an oversize one.
    const stream = Buffer.concat([Buffer.from([0x30, 0x00]), publish(1_001)]);
    expect(new PacketSizeGuard(LIMITS).inspect(stream)?.reason).toBe('payload_too_large');
  });
});

describe('PacketSizeGuard: other packets', () => {
  /** A CONNECT whose remaining length is exactly `remaining`. */
  function connectOfRemaining(remaining: number): Buffer {
    const overhead = fixedHeader(connect(0)).remaining;
    const packet = connect(remaining - overhead);
    expect(fixedHeader(packet).remaining).toBe(remaining);
    return packet;
  }

  it('passes a CONNECT whose remaining length is exactly maxOtherPacketBytes', () => {
    expect(new PacketSizeGuard(LIMITS).inspect(connectOfRemaining(500))).toBeNull();
  });

  it('reports a CONNECT over maxOtherPacketBytes from its fixed header alone', () => {
    const packet = connectOfRemaining(501);
    const { headerBytes } = fixedHeader(packet);
    expect(new PacketSizeGuard(LIMITS).inspect(packet.subarray(0, headerBytes))).toEqual({ packetType: CONNECT, declaredBytes: 501, reason: 'packet_too_large' });
  });

  it('reports an oversize SUBSCRIBE', () => {
    const packet = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `a/${'x'.repeat(600)}`, qos: 0 }] });
    expect(new PacketSizeGuard(LIMITS).inspect(packet)?.reason).toBe('packet_too_large');
  });

  it('does not apply the PUBLISH payload limit to other packets', () => {
    const limits = { maxPayloadBytes: 10, maxOtherPacketBytes: 1_000 };
    expect(new PacketSizeGuard(limits).inspect(connect(400))).toBeNull();
  });
});

describe('PacketSizeGuard: malformed remaining length', () => {
  it('reports a remaining length that runs into a fifth byte', () => {
    const bytes = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const verdicts = feed(new PacketSizeGuard(LIMITS), bytesOf(bytes));
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]!.at).toBe(4); // the fourth length byte still has its continuation bit set
    expect(verdicts[0]!.violation.reason).toBe('malformed_length');
    expect(verdicts[0]!.violation.packetType).toBe(PUBLISH);
  });

  it('reports the same for a non-PUBLISH packet in one chunk', () => {
    expect(new PacketSizeGuard(LIMITS).inspect(Buffer.from([0x82, 0x80, 0x80, 0x80, 0x80, 0x00]))?.reason).toBe('malformed_length');
  });

  it('accepts the largest 4-byte remaining length as well-formed (and too large)', () => {
    const bytes = Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]);
    expect(new PacketSizeGuard(LIMITS).inspect(bytes)).toEqual({ packetType: CONNECT, declaredBytes: 268_435_455, reason: 'packet_too_large' });
  });
});
