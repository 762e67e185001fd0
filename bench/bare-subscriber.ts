/**
 * The baseline of bench/mqtt-client.ts: a bare MQTT.js subscriber that acknowledges every QoS 1 message at
 * once and stores nothing. Prints `{"ready":true}` after its SUBACK, then `{"received":n,"lastAt":ms}` once it
 * has `--count` messages or `--timeout-ms` passed.
 */
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values } = parseArgs({ options: { url: { type: 'string' }, count: { type: 'string' }, 'timeout-ms': { type: 'string', default: '120000' }, 'receive-maximum': { type: 'string', default: '100' } } });
const target = Number(values.count);
const client = await mqtt.connectAsync(values.url!, {
  clientId: 'bench-bare-subscriber',
  protocolVersion: 5,
  reconnectPeriod: 0,
  properties: { receiveMaximum: Number(values['receive-maximum']) },
});
let received = 0;
let lastAt = 0;
const finish = (): void => {
  process.stdout.write(`${JSON.stringify({ received, lastAt })}\n`);
  void client.endAsync(true).then(() => process.exit(0));
};
client.on('message', () => {
  received += 1;
  lastAt = Date.now();
  if (received === target) finish();
});
await client.subscribeAsync('devices/#', { qos: 1 });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setTimeout(finish, Number(values["timeout-ms"]));
