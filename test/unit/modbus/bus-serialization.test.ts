import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { modbusBusSchema } from '../../../src/sources/modbus/config.js';
import { Metrics } from '../../../src/core/metrics.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import { ModbusRequestError, type ModbusLink } from '../../../src/sources/modbus/modbus-link.js';
import { ModbusBusSource } from '../../../src/sources/modbus/source.js';

/** A bus whose replies take a few ms, recording how many requests were on the wire at once. */
function slowBus() {
  const state = { inFlight: 0, maxInFlight: 0, requests: [] as number[] };
  const link: ModbusLink = {
    read: async (unitId) => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      state.requests.push(unitId);
      await new Promise((r) => setTimeout(r, 3));
      state.inFlight--;
      if (unitId === 9) throw new ModbusRequestError('timeout', 'no reply within the timeout');
      return [unitId];
    },
    onLost: () => undefined,
    close: async () => undefined,
  };
  return { state, open: async () => link };
}

describe('Modbus bus scheduling', () => {
  it('never has two requests on one bus at once, and a failing unit backs off without holding up the others', async () => {
    const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }); await buffer.open();
    const metrics = new Metrics();
    const logger = pino({ level: 'silent' });
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
    const fake = slowBus();
    const bus = modbusBusSchema.parse({
      path: '/dev/fake',
      devices: [1, 2, 3, 9].map((unitId) => ({ unitId, deviceId: `u${unitId}`, intervalMs: 10, maxBackoffMs: 200, registers: [{ name: 'v', address: 0 }] })),
    });
    const source = new ModbusBusSource({ bus, admission, metrics, logger, open: fake.open });
    await source.start();
    const end = Date.now() + 10_000;
    while (buffer.stats().buffered < 60 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await source.stop(AbortSignal.timeout(2_000));
    expect(buffer.stats().buffered).toBeGreaterThanOrEqual(60);
    expect(fake.state.maxInFlight).toBe(1);
    const asked = (u: number) => fake.state.requests.filter((x) => x === u).length;
    for (const u of [1, 2, 3]) expect(asked(u)).toBeGreaterThanOrEqual(15);
    expect(asked(9)).toBeLessThan(asked(1) / 2);
    expect(metrics.get('modbus_errors_total', { bus: 'fake', unit: '9', reason: 'timeout' })).toBe(asked(9));
  });
});
