import { loadConfig } from '../config/load.js';
import { systemClock } from '../core/clock.js';
import { createLogger } from '../core/logger.js';
import { Metrics } from '../core/metrics.js';
import { loadTransformChain } from '../pipeline/load-chain.js';

/**
 * `tidegate check-config FILE`: validates and prints the effective config (defaults filled in). The
 * transforms and rules are built too, as the gateway would build them, so a device registry that does not
 * load is reported here rather than at start.
 */
export async function checkConfigCommand(file: string, print: boolean): Promise<number> {
  const config = await loadConfig(file);
  await loadTransformChain(config, { clock: systemClock, logger: createLogger('silent', false), metrics: new Metrics() });
  if (print) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  else process.stdout.write(`${file}: configuration is valid${config.rules.length > 0 ? ` (${config.rules.length} rule${config.rules.length === 1 ? '' : 's'})` : ''}\n`);
  return 0;
}
