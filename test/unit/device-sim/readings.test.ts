import { describe, it, expect } from 'vitest';
import {
  DeviceReadings,
  createDeviceReadings,
  deviceIdFor,
  encodeReading,
  kindForIndex,
  type Reading,
} from '../../../device-sim/readings.js';

const T0 = Date.UTC(2025, 0, 15, 0, 0, 0);

function series(index: number, seed: number, n: number, stepMs = 60_000): Reading[] {
  const gen = createDeviceReadings(index, 50, seed);
  return Array.from({ length: n }, (_, i) => gen.next(T0 + i * stepMs));
}

describe('device ids and kinds', () => {
  it('cycles kinds th, co2, occ and numbers devices from 1', () => {
    expect([0, 1, 2, 3].map(kindForIndex)).toEqual(['th', 'co2', 'occ', 'th']);
    expect(deviceIdFor(0, 50)).toBe('th-0001');
    expect(deviceIdFor(1, 50)).toBe('co2-0002');
    expect(deviceIdFor(2, 50)).toBe('occ-0003');
    expect(deviceIdFor(11_999, 12_000)).toBe('occ-12000');
    expect(deviceIdFor(99_999, 100_000)).toBe('th-100000');
  });

  it('prepends the device prefix', () => {
    expect(deviceIdFor(3, 10, 'lab1-')).toBe('lab1-th-0004');
  });
});

describe('reading generator', () => {
  it('is deterministic for a seed', () => {
    for (const index of [0, 1, 2]) {
      expect(series(index, 42, 200)).toEqual(series(index, 42, 200));
    }
  });

  it('differs between seeds and between devices', () => {
    expect(series(0, 42, 50)).not.toEqual(series(0, 43, 50));
    const a = series(0, 42, 50).map((r) => r.temperature);
    const b = series(3, 42, 50).map((r) => r.temperature);
    expect(a).not.toEqual(b);
  });

  it('numbers readings from seq 1 upwards by one and keeps the given ts', () => {
    const readings = series(1, 7, 10, 1000);
    expect(readings.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(readings.map((r) => r.ts)).toEqual(readings.map((_, i) => T0 + i * 1000));
  });

  it('emits only the fields of its kind, within plausible ranges, over two days', () => {
    const day2 = 2 * 24 * 60; // one reading a minute for 48 h
    for (const r of series(0, 1, day2)) {
      expect(Object.keys(r).sort()).toEqual(['humidity', 'seq', 'temperature', 'ts']);
      expect(r.temperature).toBeGreaterThanOrEqual(10);
      expect(r.temperature).toBeLessThanOrEqual(35);
      expect(r.humidity).toBeGreaterThanOrEqual(15);
      expect(r.humidity).toBeLessThanOrEqual(85);
    }
    for (const r of series(1, 1, day2)) {
      expect(Object.keys(r).sort()).toEqual(['co2', 'seq', 'ts']);
      expect(Number.isInteger(r.co2)).toBe(true);
      expect(r.co2).toBeGreaterThanOrEqual(400);
      expect(r.co2).toBeLessThanOrEqual(2500);
    }
    for (const r of series(2, 1, day2)) {
      expect(Object.keys(r).sort()).toEqual(['occupancy', 'seq', 'ts']);
      expect(Number.isInteger(r.occupancy)).toBe(true);
      expect(r.occupancy).toBeGreaterThanOrEqual(0);
    }
  });

  it('changes smoothly between consecutive readings', () => {
    const temps = series(0, 5, 500).map((r) => r.temperature as number);
    for (let i = 1; i < temps.length; i++) {
      expect(Math.abs((temps[i] as number) - (temps[i - 1] as number))).toBeLessThan(1);
    }
  });

  it('follows a daily cycle: CO2 is higher in the afternoon than at night', () => {
    const gen = new DeviceReadings('co2-0001', 'co2', 9);
    const night = Array.from({ length: 60 }, (_, i) => gen.next(T0 + 2 * 3600_000 + i * 60_000).co2 as number);
    const noon = Array.from({ length: 60 }, (_, i) => gen.next(T0 + 13 * 3600_000 + i * 60_000).co2 as number);
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(avg(noon)).toBeGreaterThan(avg(night) + 200);
  });
});

describe('encodeReading', () => {
  const reading: Reading = { seq: 3, ts: T0, temperature: 21.4, humidity: 45.2 };

  it('serialises the reading as JSON in field order', () => {
    expect(encodeReading(reading)).toBe(`{"seq":3,"ts":${T0},"temperature":21.4,"humidity":45.2}`);
  });

  it('pads to exactly payloadBytes with a pad field', () => {
    for (const size of [100, 512, 4096]) {
      const json = encodeReading(reading, size);
      expect(Buffer.byteLength(json)).toBe(size);
      const parsed = JSON.parse(json) as Reading & { pad: string };
      expect(parsed.temperature).toBe(21.4);
      expect(parsed.pad).toMatch(/^x*$/);
    }
  });

  it('leaves readings already larger than payloadBytes unpadded', () => {
    expect(encodeReading(reading, 10)).toBe(encodeReading(reading));
  });
});
