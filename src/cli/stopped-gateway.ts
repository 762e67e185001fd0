import { TidegateError } from '../core/errors.js';
import { loadConfig } from '../config/load.js';
import { createControlHandler } from '../control/handler.js';
import type { ControlRequest } from '../control/protocol.js';
import { compileTopicTemplate } from '../normalize/topic-map.js';
import { LevelBuffer } from '../buffer/level-buffer.js';
import { KINESIS_SINK_ID } from '../sinks/kinesis/limits.js';

/**
 * Answers an operator request by opening a stopped gateway's data dir directly, read-only but for
 * dead-letter commands. Loaded only when no gateway answers on the control socket: it needs the whole
 * validated config and the LevelDB buffer.
 */
export async function requestStoppedGateway(configFile: string, request: ControlRequest): Promise<unknown> {
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
