import mqttPacket from 'mqtt-packet';

/**
 * mqtt-packet writes every two-byte number of a packet (a PUBACK's packet identifier, a topic's length) from
 * a table of 65,536 two-byte Buffers that it builds on the first packet it writes and keeps for the life of
 * the process: about 7 MiB of old space (65,537 Buffer objects and the table holding them), all of it marked
 * again at every full collection. A heap snapshot of the gateway in a burst found it the largest single
 * item of its live heap (issue "Pi-class efficiency"). Without the table, each number is written into a
 * fresh two-byte Buffer that dies young: one small allocation per PUBACK.
 *
 * The embedded broker (aedes) and the site-broker client (mqtt.js) both write through the one mqtt-packet
 * the gateway depends on (npm installs a single copy; test/integration/mqtt-packet-numbers.test.ts checks
 * that the copy aedes writes with has no table after real traffic). Idempotent.
 */
export function writeMqttNumbersWithoutTable(): void {
  mqttPacket.writeToStream.cacheNumbers = false;
}
