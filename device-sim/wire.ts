/**
 * The payloads a transport carries: JSON per MQTT message, or lines in the
 * serial port's framing, for readings and for injected junk alike.
 */
import { malformedLine, malformedMqtt, noiseLine, oversizeLine, oversizeMqtt } from './faults/junk.js';
import { LineEncoder, mqttPayload, type WireReading } from './model/encode.js';
import type { Rng } from './model/random.js';
import type { ResolvedOptions } from './plan.js';
import type { MalformedKind } from './scenario/schema.js';

export interface Wire {
  reading(r: WireReading): string;
  malformed(kind: MalformedKind, r: WireReading): string | Buffer;
  oversize(r: WireReading, bytes: number): string;
  noise(rng: Rng, bytes: number): Buffer;
}

export function wireFor(o: ResolvedOptions): Wire {
  const t = o.transport;
  if (t.kind === 'mqtt') {
    return {
      reading: (r) => mqttPayload(r, o.payloadBytes),
      malformed: malformedMqtt,
      oversize: oversizeMqtt,
      noise: (rng, bytes) => noiseLine(rng, bytes, ''),
    };
  }
  const enc = new LineEncoder(t.framing, t.lineEnding);
  return {
    reading: (r) => enc.line(r),
    malformed: (kind, r) => malformedLine(kind, r, enc),
    oversize: (r, bytes) => oversizeLine(r, bytes, enc),
    noise: (rng, bytes) => noiseLine(rng, bytes, t.lineEnding),
  };
}
