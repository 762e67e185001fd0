import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { StatusReport } from '../../src/control/handler.js';
import { KINESIS_SINK_ID } from '../../src/sinks/kinesis/limits.js';
import { tidegate } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('tidegate status of a stopped gateway', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  /** A data dir a gateway left behind: five readings acknowledged, two of them delivered. */
  async function leftBehind(dataDir: string): Promise<void> {
    const buffer = new LevelBuffer({ dir: dataDir, gatewayId: 'gw-stopped', durability: 'fsync', commitIntervalMs: 0, maxCommitRecords: 100, sinkIds: [KINESIS_SINK_ID] });
    await buffer.open();
    try {
      const readings = [1, 2, 3, 4, 5].map((n) => ({ deviceId: 'th-1', topic: 'devices/th-1/telemetry', receivedAt: 1_000 + n, values: { t: n } }));
      await buffer.append(readings);
      const delivered = (await buffer.read('telemetry', 0, 2)).slice(0, 2);
      await buffer.commitCursor(KINESIS_SINK_ID, 'telemetry', delivered[1]!.seq, { delivered, deadLettered: [] });
    } finally {
      await buffer.close();
    }
  }

  /** A temp dir holding a left-behind data dir, and the path its config file goes to. */
  async function stoppedGateway(): Promise<{ dataDir: string; config: string }> {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const dataDir = path.join(temp.dir, 'data');
    await leftBehind(dataDir);
    return { dataDir, config: path.join(temp.dir, 'tidegate.yaml') };
  }

  it('reports the buffer\'s counters with the config\'s id and budget, also when the config is invalid elsewhere', async () => {
    const { dataDir, config } = await stoppedGateway();
    const settings = `gatewayId: gw-stopped\ndataDir: ${JSON.stringify(dataDir)}\nbuffer:\n  maxBytes: 67108864\n  whenFull: drop_oldest\n`;
    // A rule that no longer compiles keeps the gateway from starting; its buffer is still worth reading.
    for (const text of [settings, `${settings}rules:\n  - name: hot\n    when: "temperature >"\n`]) {
      await writeFile(config, text);
      const result = await tidegate('status', '--config', config, '--json');
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as StatusReport;
      expect(report).toMatchObject({ running: false, gatewayId: 'gw-stopped', dataDir, conservationGap: 0 });
      expect(report.buffer).toMatchObject({ received: 5, delivered: 2, maxBytes: 67_108_864, whenFull: 'drop_oldest' });
    }
  });

  it('reports a malformed buffer key with its path and status 2, as the full validation does', async () => {
    const { dataDir, config } = await stoppedGateway();
    await writeFile(config, `dataDir: ${JSON.stringify(dataDir)}\nbuffer:\n  maxBytes: 2GiB\n`);
    const result = await tidegate('status', '--config', config);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/buffer\.maxBytes/);
  });
});
