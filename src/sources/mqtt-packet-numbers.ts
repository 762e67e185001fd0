import mqttPacket from 'mqtt-packet';

/**
 * mqtt-packet writes every two-byte number of a packet (a PUBACK's packet identifier, a topic's length) from
 * a table of 65,536 two-byte Buffers that it builds on the first packet it writes and keeps for the life of
 * the process: about 7 MiB of old space (65,537 Buffer objects and the table holding them), all of it marked
 * again at every full collection. A heap snapshot of the gateway in a burst found it the largest single
 * item of its live heap (issue "Pi-class efficiency"). Without the table, each number is written into a
 * fresh two-byte Buffer that dies young: one small allocation per PUBACK.
 *
 * The embedded broker (aedes) writes through the one mqtt-packet the gateway depends on (npm installs a
 * single copy; test/integration/mqtt-packet-numbers.test.ts checks that the copy aedes writes with has no
 * table after real traffic). aedes has no option for it, so the broker source calls this at start; the
 * site-broker client sets MQTT.js's own option for the same switch (`writeCache: false`). Idempotent.
 */
export function writeMqttNumbersWithoutTable(): void {
  mqttPacket.writeToStream.cacheNumbers = false;
}
