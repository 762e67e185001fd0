// What `aedes` resolves to under TIDEGATE_TEST_BROKER=aedes-next: the aedes 2.0.0-beta.1 broker (installed with
// `npm install --no-save aedes-next@npm:aedes@2.0.0-beta.1`), with the MQTT 5 settings a gateway would give it:
// topic aliases on (aedes 2 defaults them off) and a Receive Maximum announced in CONNACK.
import { Aedes as Next } from 'aedes-next';

export const MQTT5_DEFAULTS = Object.freeze({ topicAliasMaximum: 16, receiveMaximum: 32 });

export const Aedes = {
  createBroker: (options = {}) => Next.createBroker({ ...MQTT5_DEFAULTS, ...options }),
};
