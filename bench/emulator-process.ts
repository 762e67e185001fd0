/** A Kinesis emulator in its own process (so it does not share a core with what it measures). */
import { startLocalEmulator } from '../src/kinesis-local/emulator.js';

const emulator = await startLocalEmulator('127.0.0.1', 0);
process.stdout.write(`${JSON.stringify({ endpoint: emulator.endpoint })}\n`);
const stop = (): void => void emulator.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
