import { TidegateError } from '../core/errors.js';
import { readBufferInspection, type BufferInspection } from '../config/buffer-inspection.js';
import { createControlHandler, statusReport } from '../control/handler.js';
import type { ControlRequest } from '../control/protocol.js';
import { compileTopicTemplate } from '../normalize/topic-map.js';
import { LevelBuffer } from '../buffer/level-buffer.js';
import { DEFAULT_MAX_COMMIT_RECORDS } from '../buffer/defaults.js';
import { KINESIS_SINK_ID } from '../sinks/kinesis/limits.js';

/**
 * Answers an operator request by opening a stopped gateway's data dir directly, read-only but for
 * dead-letter commands. Loaded only when no gateway answers on the control socket. The status needs only
 * the buffer and four keys of the config (src/config/buffer-inspection.ts); the other requests load the
 * whole validated config, as a dead-letter replay decodes with the gateway's own settings.
 */
export async function requestStoppedGateway(configFile: string, request: ControlRequest): Promise<unknown> {
  if (request.op === 'status') {
    const inspection = await readBufferInspection(configFile);
    if (inspection) return stoppedStatus(inspection);
  }
  // Loaded here, not at the top: the status of a stopped gateway does without it (a third of a second).
  const { loadConfig } = await import('../config/load.js');
  const config = await loadConfig(configFile);
  // Replayed readings go through the transforms and rules, whose state (windows, deadbands, detectors) lives
  // in the running gateway: stored around them, they would skip a rule the operator configured.
  if (request.op === 'dead-letters.replay' && (config.transforms.length > 0 || config.rules.length > 0)) {
    throw new TidegateError(
      'ERR_USAGE',
      `the gateway is not running and ${configFile} has transforms or rules, which replayed dead letters must go through: start the gateway (tidegate run) and replay again`,
    );
  }
  const buffer = new LevelBuffer({
    dir: config.dataDir,
    gatewayId: config.gatewayId,
    durability: config.buffer.durability,
    commitIntervalMs: 0,
    maxCommitRecords: config.buffer.maxCommitRecords,
    maxBytes: config.buffer.maxBytes,
    whenFull: config.buffer.whenFull,
    sinkIds: [KINESIS_SINK_ID],
    inspectOnly: true,
  });
  await buffer.open();
  try {
    const handle = createControlHandler({
      buffer,
      gatewayId: config.gatewayId,
      dataDir: config.dataDir,
      decode: { matchTopic: compileTopicTemplate(config.mqtt.topicTemplate), maxPayloadBytes: config.mqtt.maxPayloadBytes },
      running: false,
    });
    return await handle(request);
  } finally {
    await buffer.close();
  }
}

/**
 * The status of a stopped gateway from its buffer alone, with the four keys of the config it needs: the
 * counters are the buffer's, and the rest of the config plays no part in them.
 */
async function stoppedStatus(inspection: BufferInspection): Promise<unknown> {
  const buffer = new LevelBuffer({
    dir: inspection.dataDir,
    gatewayId: inspection.gatewayId,
    maxBytes: inspection.maxBytes,
    whenFull: inspection.whenFull,
    // A status writes nothing; these only shape writes, and are the safe ones were there any.
    durability: 'fsync',
    maxCommitRecords: DEFAULT_MAX_COMMIT_RECORDS,
    commitIntervalMs: 0,
    sinkIds: [KINESIS_SINK_ID],
    inspectOnly: true,
  });
  await buffer.open();
  try {
    return await statusReport({ buffer, gatewayId: inspection.gatewayId, dataDir: inspection.dataDir, running: false });
  } finally {
    await buffer.close();
  }
}
