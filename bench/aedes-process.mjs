/**
 * Ceiling (b) and the floor: aedes alone on loopback, acknowledging every publish without storing it.
 * Plain JavaScript, run by node without the TypeScript loader: tsx adds about 30 MiB to a process's RSS,
 * which would inflate the floor's memory (and the gateway runs from dist, without it). mqtt-packet writes
 * its numbers without its 65,536-Buffer table, as in the gateway (src/sources/mqtt-packet-numbers.ts), so
 * the floor's memory is aedes as the gateway runs it.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';

mqttPacket.writeToStream.cacheNumbers = false;

const broker = await Aedes.createBroker();
const server = net.createServer((socket) => broker.handle(socket));
server.listen(0, '127.0.0.1', () => {
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
const stop = () => {
  server.close();
  broker.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
