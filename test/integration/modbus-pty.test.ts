import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startPtyPair, type PtyPair } from '../helpers/device-sim-pty.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { RtuDeviceBus } from '../helpers/modbus-rtu-device.js';
import { emulatorClient, waitForStream, type StreamRecord } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const STREAM = 'tidegate-telemetry';

async function until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A 32-bit value as the two registers a big-endian ("ABCD") device holds. */
function words(write: (b: Buffer) => void): [number, number] {
  const b = Buffer.alloc(4);
  write(b);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

const [i32hi, i32lo] = words((b) => b.writeInt32BE(-100_000));
const [f32hi, f32lo] = words((b) => b.writeFloatBE(1234.5));
const [p32hi, p32lo] = words((b) => b.writeFloatBE(3.25));
const [u32hi, u32lo] = words((b) => b.writeUInt32BE(3_000_000_000));

const boilerMap = {
  holding: { 0: 0xff29, 1: 50_000, 2: i32hi, 3: i32lo, 4: f32hi, 5: f32lo },
  // Word-swapped ("CDAB") 32-bit values, and a byte-swapped 16-bit register.
  input: { 0: p32lo, 1: p32hi, 2: u32lo, 3: u32hi, 4: 0x3412 },
  coils: { 0: true },
  discrete: { 0: false },
};

const boilerRegisters = [
  { name: 'temperature', address: 0, function: 3, type: 'int16', scale: 0.1, unit: 'C' },
  { name: 'level', address: 1, function: 3, type: 'uint16' },
  { name: 'counter', address: 2, function: 3, type: 'int32' },
  { name: 'energy', address: 4, function: 3, type: 'float32', unit: 'kWh' },
  { name: 'power', address: 0, function: 4, type: 'float32', wordOrder: 'little' },
  { name: 'total', address: 2, function: 4, type: 'uint32', wordOrder: 'little' },
  { name: 'swapped', address: 4, function: 4, type: 'uint16', byteOrder: 'little' },
  { name: 'running', address: 0, function: 1 },
  { name: 'alarm', address: 0, function: 2 },
];

describe('Modbus RTU polling over a real pty pair into Kinesis', () => {
  let gateway: Gateway | undefined;
  let pty: PtyPair | undefined;
  let bus: RtuDeviceBus | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await bus?.close();
    await pty?.close();
    await cleanup?.();
    gateway = pty = bus = cleanup = undefined;
  });

  async function rig(units: Parameters<typeof RtuDeviceBus.open>[1], devices: Record<string, unknown>[]) {
    const temp = await makeTempDir('tidegate-modbus-');
    cleanup = temp.cleanup;
    pty = await startPtyPair(temp.dir);
    bus = await RtuDeviceBus.open(pty.a, units);
    const started = await startTestGateway(`${temp.dir}/data`, {
      modbus: [{ path: pty.b, name: 'bus1', baudRate: 19_200, parity: 'none', reopen: { baseDelayMs: 50, maxDelayMs: 300 }, devices }],
    });
    gateway = started.gateway;
    return { dir: temp.dir, gateway, kinesis: emulatorClient(gateway.kinesisEndpoint!) };
  }

  it('reads every register type and word order, scaled, into one reading per poll; a silent unit times out and a corrupted CRC is counted while the good unit keeps being polled', async () => {
    const { gateway: gw, kinesis } = await rig({ 1: boilerMap, 2: { holding: { 0: 1 }, silent: true }, 3: { holding: { 0: 1 }, corruptCrc: true } }, [
      { unitId: 1, deviceId: 'boiler-1', intervalMs: 100, timeoutMs: 300, registers: boilerRegisters },
      { unitId: 2, deviceId: 'dead-2', intervalMs: 100, timeoutMs: 150, maxBackoffMs: 400, registers: [{ name: 'x', address: 0 }] },
      { unitId: 3, deviceId: 'noisy-3', intervalMs: 100, timeoutMs: 300, maxBackoffMs: 400, registers: [{ name: 'x', address: 0 }] },
    ]);
    const errors = (unit: string, reason: string): number => gw.metrics.get('modbus_errors_total', { bus: 'bus1', unit, reason });
    await until(() => errors('2', 'timeout') >= 3 && errors('3', 'crc') >= 2, 'timeouts of unit 2 and CRC errors of unit 3');
    const boiler = (r: StreamRecord[]) => r.filter((x) => x.deviceId === 'boiler-1');
    const records = await waitForStream(kinesis, STREAM, (r) => boiler(r).length >= 5, 20_000);
    expect(boiler(records).length).toBeGreaterThanOrEqual(5);
    expect(boiler(records)[0]!.values).toEqual({
      temperature: -21.5,
      'temperature.unit': 'C',
      level: 50_000,
      counter: -100_000,
      energy: 1234.5,
      'energy.unit': 'kWh',
      power: 3.25,
      total: 3_000_000_000,
      swapped: 0x1234,
      running: true,
      alarm: false,
    });
    expect(records.some((r) => r.deviceId === 'dead-2' || r.deviceId === 'noisy-3')).toBe(false);
    // The failing units back off: over the same time they were asked far less often than the good one.
    const asked = (unitId: number) => bus!.requests.filter((q) => q.unitId === unitId).length;
    expect(asked(2)).toBeLessThan(asked(1) / 2);
    // Registers of one function at adjacent addresses share a request: 4 requests per poll, not 9.
    const firstPoll = bus!.requests.filter((q) => q.unitId === 1).slice(0, 4);
    expect(firstPoll.map((q) => `${q.fn}:${q.address}+${q.count}`)).toEqual(['1:0+1', '2:0+1', '3:0+6', '4:0+5']);
  });

  it('bus port lost (socat killed and re-created at the same path): the bus reopens and polling resumes', async () => {
    const { dir, gateway: gw, kinesis } = await rig({ 5: { holding: { 7: 42 } } }, [{ unitId: 5, deviceId: 'meter-5', intervalMs: 50, timeoutMs: 200, registers: [{ name: 'v', address: 7 }] }]);
    await waitForStream(kinesis, STREAM, (r) => r.length >= 2, 15_000);
    await bus!.close();
    await pty!.close();
    await until(() => gw.metrics.get('modbus_reopens_total', { bus: 'bus1' }) >= 1, 'the lost port to be noticed');
    pty = await startPtyPair(dir);
    bus = await RtuDeviceBus.open(pty.a, { 5: { holding: { 7: 43 } } });
    const records = await waitForStream(kinesis, STREAM, (r) => r.some((x) => x.values.v === 43), 20_000);
    expect(records.filter((x) => x.values.v === 43).length).toBeGreaterThanOrEqual(1);
    expect(records.every((x) => x.deviceId === 'meter-5')).toBe(true);
  });
});
