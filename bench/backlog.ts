import { LevelBuffer } from '../src/buffer/level-buffer.js';

/** Fills the buffer directly, as a week without uplink would, with device-sim-like readings of 50 devices. */
export async function fillBacklog(dataDir: string, count: number): Promise<void> {
  const q = new LevelBuffer({ dir: dataDir, gatewayId: 'bench', durability: 'os', commitIntervalMs: 0, maxCommitRecords: 5_000, sinkIds: ['kinesis'] });
  await q.open();
  const now = Date.now();
  for (let i = 0; i < count; i += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, count - i) }, (_, k) => {
      const n = i + k;
      // Values that vary like real sensor readings (compression gets no free ride from repeated text).
      const wave = Math.sin(n / 5_000);
      return {
        deviceId: `th-${String(n % 50).padStart(4, '0')}`,
        topic: `devices/th-${String(n % 50).padStart(4, '0')}/telemetry`,
        ts: now - count + n,
        seq: Math.floor(n / 50) + 1,
        receivedAt: now - count + n + 3,
        values: { temperature: +(21 + 3 * wave + (n % 7) / 10).toFixed(2), humidity: +(45 + 10 * wave - (n % 11) / 10).toFixed(2), co2: 600 + (n % 397), occupancy: n % 13, boot: (n * 2654435761 >>> 0).toString(16).padStart(8, '0') },
      };
    });
    await q.append(batch);
  }
  await q.close();
}
