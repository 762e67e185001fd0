import { pino } from 'pino';
import { Admission } from '../../src/admission.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { DurableBuffer } from '../../src/buffer/types.js';
import { Metrics } from '../../src/core/metrics.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { mqttAuthSchema, mqttLimitsSchema } from '../../src/sources/mqtt-broker/config.js';
import { MqttBrokerSource } from '../../src/sources/mqtt-broker/source.js';
import { makeTempDir } from './temp-dir.js';

type Closers = Array<() => Promise<unknown>>;

/** A real LevelDB buffer (fsync, every append its own commit) in a temp dir of its own; closed and removed by `closers`. */
export async function openTempLevelBuffer(closers: Closers): Promise<LevelBuffer> {
  const temp = await makeTempDir();
  closers.push(temp.cleanup);
  const buffer = new LevelBuffer({ dir: temp.dir, gatewayId: 'gw', durability: 'fsync', commitIntervalMs: 0, maxCommitRecords: 100, sinkIds: ['kinesis'] });
  await buffer.open();
  closers.push(() => buffer.close());
  return buffer;
}

/**
 * The embedded broker alone on 127.0.0.1:0, admitting into `buffer` (topic template devices/{deviceId}/#,
 * anonymous loopback clients, payloads up to 1 KiB); stopped by `closers`.
 */
export async function startBrokerSource(buffer: DurableBuffer, closers: Closers): Promise<{ source: MqttBrokerSource; port: number; url: string }> {
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
  const source = new MqttBrokerSource({ listeners: [{ host: '127.0.0.1', port: 0 }], maxPayloadBytes: 1024, auth: mqttAuthSchema.parse({}), limits: mqttLimitsSchema.parse({}), admission, logger, metrics });
  await source.start();
  closers.push(() => source.stop(AbortSignal.timeout(5_000)));
  const port = source.addresses[0]!.port;
  return { source, port, url: `mqtt://127.0.0.1:${port}` };
}
