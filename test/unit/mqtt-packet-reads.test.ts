import { createRequire } from 'node:module';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { readMqttPacketsWithoutSlices } from '../../src/sources/mqtt-packet-reads.js';

const require = createRequire(import.meta.url);
type List = { append(b: Buffer): void; slice(s?: number, e?: number): Buffer; toString(encoding?: BufferEncoding, start?: number, end?: number): string; length: number } & Record<string, (...a: unknown[]) => unknown>;
const bl = require(require.resolve('bl', { paths: [path.dirname(require.resolve('mqtt-packet/package.json'))] })) as () => List;

/** bl's own definition of each read: a slice, then the Buffer's read (slice itself is not replaced). */
const reference = {
  readUInt8: (l: List, o: number) => l.slice(o, o + 1).readUInt8(0),
  readUInt16BE: (l: List, o: number) => l.slice(o, o + 2).readUInt16BE(0),
  readUInt32BE: (l: List, o: number) => l.slice(o, o + 4).readUInt32BE(0),
};
const outcome = (f: () => unknown): unknown => {
  try {
    return f();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
};

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('mqtt-packet reads without slices', () => {
  it('reads exactly what bl reads, for every offset of lists split into buffers at random, out-of-range and spanning reads included', () => {
    expect(readMqttPacketsWithoutSlices()).toBe(true);
    expect(readMqttPacketsWithoutSlices()).toBe(true); // idempotent
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const list = bl();
      const parts = 1 + Math.floor(next() * 5);
      for (let p = 0; p < parts; p++) {
        const bytes = Buffer.alloc(Math.floor(next() * 9));
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
        // Some text too, multi-byte UTF-8 included, so toString is compared on characters split across buffers.
        list.append(next() < 0.3 ? Buffer.from('aé€', 'utf8') : bytes);
      }
      // Not fractional offsets: bl then copies fewer bytes than it allocates, and the rest is whatever memory held.
      const offsets = [-2, -1, ...Array.from({ length: list.length + 3 }, (_, i) => i)];
      for (const offset of offsets) {
        for (const [method, read] of Object.entries(reference)) {
          expect(outcome(() => list[method]!(offset)), `${method}(${offset}) of ${list.length} bytes in ${parts} buffers`).toEqual(outcome(() => read(list, offset)));
        }
        for (const end of [offset + 1, offset + 3, list.length, list.length + 2, offset - 1]) {
          expect(outcome(() => list.toString('utf8', offset, end)), `toString(${offset}, ${end})`).toEqual(outcome(() => list.slice(offset, end).toString('utf8')));
        }
      }
      expect(list.toString('utf8')).toEqual(list.slice().toString('utf8'));
    }
  });

  it("parses PUBLISH packets with one slice each (the payload's), where bl used one per header read", () => {
    expect(readMqttPacketsWithoutSlices()).toBe(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const list = (parser as unknown as { _list: List })._list;
    let slices = 0;
    const slice = list.slice.bind(list);
    list.slice = (s?: number, e?: number) => {
      slices += 1;
      return slice(s, e);
    };
    const topics: string[] = [];
    const payloads: string[] = [];
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd !== 'publish') return;
      topics.push(p.topic);
      payloads.push(p.payload.toString());
    });
    const packets = [1, 2, 3].map((n) =>
      mqttPacket.generate({ cmd: 'publish', topic: `devices/d${n}/telemetry`, payload: Buffer.from(`{"t":${20 + n}}`), qos: 1, messageId: n, retain: false, dup: false }),
    );
    parser.parse(Buffer.concat(packets));
    expect(topics).toEqual(['devices/d1/telemetry', 'devices/d2/telemetry', 'devices/d3/telemetry']);
    expect(payloads).toEqual(['{"t":21}', '{"t":22}', '{"t":23}']);
    expect(slices).toBe(3);
  });
});
