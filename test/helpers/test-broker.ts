/**
 * TIDEGATE_TEST_BROKER=aedes-next runs the broker tests on the aedes 2 beta line (mqtt.protocol.maxVersion 5)
 * instead of aedes 1.x: gateways built by testConfig get the option, child gateways get it through
 * TIDEGATE_MQTT_MAX_VERSION (childEnv), and an MqttBrokerSource built directly takes testBrokerProtocol().
 */
import { mqttProtocolSchema, type MqttProtocolConfig } from '../../src/sources/mqtt-broker/config.js';

export type TestBroker = 'aedes' | 'aedes-next';

export function testBroker(): TestBroker {
  const value = process.env.TIDEGATE_TEST_BROKER;
  if (value === undefined || value === '' || value === 'aedes') return 'aedes';
  if (value === 'aedes-next') return 'aedes-next';
  throw new Error(`TIDEGATE_TEST_BROKER=${value}: expected aedes (the default) or aedes-next`);
}

/** The mqtt.protocol.maxVersion the chosen broker stands for. */
export function testBrokerMaxVersion(): 4 | 5 {
  return testBroker() === 'aedes-next' ? 5 : 4;
}

export function testBrokerProtocol(): MqttProtocolConfig {
  return mqttProtocolSchema.parse({ maxVersion: testBrokerMaxVersion() });
}
