import { readConfigPaths } from '../config/config-paths.js';
import { controlRequest } from '../control/client.js';
import { controlSocketPath, type ControlRequest } from '../control/protocol.js';

/**
 * Answers an operator request: from the running gateway over its control socket when there is one,
 * otherwise by opening the (stopped) gateway's data dir directly, read-only but for dead-letter commands.
 * Finding the socket needs only the data dir, so a running gateway answers before the schema and the
 * buffer are loaded (a third of a second on this machine's cores, more on a small board's).
 */
export async function bufferRequest(configFile: string, request: ControlRequest): Promise<unknown> {
  const { dataDir } = await readConfigPaths(configFile);
  if (dataDir !== undefined) {
    const fromGateway = await controlRequest(controlSocketPath(dataDir), request);
    if (fromGateway !== null) return fromGateway;
  }
  const { requestStoppedGateway } = await import('./stopped-gateway.js');
  return requestStoppedGateway(configFile, request);
}
