/**
 * Watches the MQTT byte stream and reports a packet whose declared size is over the limit as soon as its
 * fixed header (and, for PUBLISH, its topic length) has arrived, before the body is buffered anywhere.
 * aedes has no maximum packet size and its parser would buffer up to the protocol maximum of 256 MB per
 * packet (aedes issue #831); MQTT 3.1.1 [MQTT-2.2.3] encodes the remaining length in 1-4 bytes.
 */
export interface PacketLimits {
  maxPayloadBytes: number;
  /** Any packet other than PUBLISH (CONNECT with its will, SUBSCRIBE, ...). */
  maxOtherPacketBytes: number;
}

export interface Violation {
  packetType: number;
  /** For PUBLISH, the declared payload size; otherwise the declared remaining length. */
  declaredBytes: number;
  reason: 'payload_too_large' | 'packet_too_large' | 'malformed_length';
  /** For an oversize PUBLISH, its topic, when it is short enough to wait for (see MAX_TOPIC_TO_READ). */
  topic?: string;
}

const PUBLISH = 3;
/**
 * An oversize PUBLISH is reported with its topic, so the operator learns which device and stream sent it,
 * when the topic is at most this long: waiting for it costs at most this many buffered bytes per connection,
 * where a topic may be up to 65,535 bytes [MQTT-1.5.3].
 */
const MAX_TOPIC_TO_READ = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export class PacketSizeGuard {
  private header: number[] = [];
  private bodyLeft = 0;
  private violated = false;

  constructor(private readonly limits: PacketLimits) {}

  /** Inspects the next chunk of the stream; returns the first violation found, or null. */
  inspect(chunk: Uint8Array): Violation | null {
    if (this.violated) return null;
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        continue;
      }
      this.header.push(chunk[i]!);
      i += 1;
      const verdict = this.readHeader();
      if (verdict === 'more') continue;
      this.header = [];
      if (verdict !== 'ok') {
        this.violated = true;
        return verdict;
      }
    }
    return null;
  }

  /** 'more' until the header bytes needed for a decision have arrived; then 'ok' or the violation. */
  private readHeader(): 'more' | 'ok' | Violation {
    const h = this.header;
    const type = h[0]! >> 4;
    let remaining = 0;
    let multiplier = 1;
    let pos = 1;
    for (;;) {
      if (pos >= h.length) return 'more';
      const byte = h[pos]!;
      remaining += (byte & 0x7f) * multiplier;
      pos += 1;
      if ((byte & 0x80) === 0) break;
      multiplier *= 128;
      if (pos > 4) return { packetType: type, declaredBytes: remaining, reason: 'malformed_length' };
    }
    if (type !== PUBLISH || remaining < 2) {
      if (type !== PUBLISH && remaining > this.limits.maxOtherPacketBytes) {
        return { packetType: type, declaredBytes: remaining, reason: 'packet_too_large' };
      }
      this.bodyLeft = remaining;
      return 'ok';
    }
    // PUBLISH: variable header = topic length (2 bytes) + topic + packet id when QoS > 0 [MQTT-3.3.2].
    if (h.length < pos + 2) return 'more';
    const topicLength = (h[pos]! << 8) | h[pos + 1]!;
    const qos = (h[0]! >> 1) & 0x03;
    const payload = remaining - 2 - topicLength - (qos > 0 ? 2 : 0);
    if (payload > this.limits.maxPayloadBytes) {
      const violation: Violation = { packetType: type, declaredBytes: payload, reason: 'payload_too_large' };
      if (topicLength > MAX_TOPIC_TO_READ) return violation;
      const topicStart = pos + 2;
      if (h.length < topicStart + topicLength) return 'more';
      return { ...violation, topic: utf8.decode(Uint8Array.from(h.slice(topicStart, topicStart + topicLength))) };
    }
    this.bodyLeft = remaining - 2;
    return 'ok';
  }
}
