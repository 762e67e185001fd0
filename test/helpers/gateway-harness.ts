import { pino } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Gateway } from '../../src/gateway.js';

/** Deep-partial overrides of the config document (YAML shape). */
export type ConfigDoc = Record<string, unknown>;

/** A config on ephemeral loopback ports and a temp data dir: never the defaults 1883/4567 or ./data. */
export function testConfig(dataDir: string, overrides: ConfigDoc = {}): Config {
  const doc: ConfigDoc = {
    gatewayId: (overrides.gatewayId as string | undefined) ?? 'test-gw',
    dataDir,
    log: { level: 'warn' },
    mqtt: { listeners: [{ host: '127.0.0.1', port: 0 }], ...(overrides.mqtt as object) },
    buffer: { commitIntervalMs: 2, ...(overrides.buffer as object) },
    status: { port: 0, ...(overrides.status as object) },
    kinesis: {
      endpoint: 'local',
      local: { host: '127.0.0.1', port: 0, shards: 4 },
      retry: { baseDelayMs: 20, maxDelayMs: 500 },
      ...(overrides.kinesis as object),
    },
  };
  for (const [k, v] of Object.entries(overrides)) if (!(k in doc)) doc[k] = v;
  return validateConfig(doc, 'test config');
}

export async function startTestGateway(dataDir: string, overrides: ConfigDoc = {}): Promise<{ gateway: Gateway; mqttUrl: string }> {
  const gateway = await Gateway.start(testConfig(dataDir, overrides), pino({ level: process.env.TIDEGATE_TEST_LOG ?? 'silent' }));
  const address = gateway.mqttAddresses[0]!;
  return { gateway, mqttUrl: `mqtt://${address.host}:${address.port}` };
}
