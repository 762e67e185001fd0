import type { Aedes, AedesOptions } from 'aedes';
import type { MqttProtocolConfig } from './config.js';

/**
 * The one place that chooses the broker library. aedes 1.x speaks MQTT 3.1/3.1.1; MQTT 5 needs the
 * aedes 2 line (installed as `aedes-next`, pinned exactly), imported only when mqtt.protocol.maxVersion
 * is 5 so a default gateway never loads it. Both lines share the hooks tidegate uses (preConnect,
 * authenticate, authorizePublish, authorizeSubscribe, handle), so the rest of the adapter is the same.
 */
export async function createBroker(protocol: MqttProtocolConfig, options: AedesOptions): Promise<Aedes> {
  if (protocol.maxVersion === 4) {
    const { Aedes: Released } = await import('aedes');
    return Released.createBroker(options);
  }
  const { Aedes: Next } = await import('aedes-next');
  const broker = await Next.createBroker({
    ...(options as object),
    // Inbound topic aliases are resolved by the broker before authorizePublish sees the topic, so the
    // ACL and the topic template always judge the real topic [MQTT-3.3.2-7].
    topicAliasMaximum: protocol.topicAliasMaximum,
    // Advertised in CONNACK so an MQTT 5 device keeps at most this many QoS 1/2 publishes in flight.
    receiveMaximum: protocol.receiveMaximum,
    sessionExpiryIntervalLimit: protocol.maxSessionExpirySeconds,
  });
  return broker as unknown as Aedes;
}
