/**
 * The device side of the serial benchmark, in its own process like a real device: writes `count` JSON lines
 * (~120 bytes) to a serial path as fast as the port drains, then prints {"written":N,"ms":T} and waits for
 * SIGTERM. It opens the port,
 * prints {"ready":true} and waits for a line on stdin before writing, so process start-up is not timed.
 * Usage: tsx bench/serial-writer.ts PATH COUNT
 */
import { SerialPort } from 'serialport';

const [portPath, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!portPath || !Number.isInteger(count) || count <= 0) {
  console.error('usage: tsx bench/serial-writer.ts PATH COUNT');
  process.exit(2);
}
const devices = 20;
const port = new SerialPort({ path: portPath, baudRate: 115_200, autoOpen: false });
await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
console.log(JSON.stringify({ ready: true }));
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();
const started = performance.now();
const CHUNK = 200;
for (let seq = 1; seq <= count; seq += CHUNK) {
  let s = '';
  for (let i = seq; i < seq + CHUNK && i <= count; i++) {
    s += `{"deviceId":"dev-${String(i % devices).padStart(2, '0')}","seq":${i},"ts":${Date.now()},"temperature":${(20 + (i % 50) / 10).toFixed(1)},"humidity":${40 + (i % 30)}}\n`;
  }
  // Wait for the port to drain before the next chunk: the reader's pace (and its backpressure) sets ours.
  if (!port.write(s)) await new Promise<void>((resolve) => port.once('drain', () => resolve()));
}
await new Promise<void>((resolve) => port.drain(() => resolve()));
console.log(JSON.stringify({ written: count, ms: Math.round(performance.now() - started) }));
// The port stays open until the parent ends this process: closing it makes socat end its transfer loop, which
// can drop bytes still on their way to the reader.
process.on('SIGTERM', () => port.close(() => process.exit(0)));
