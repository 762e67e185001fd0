import { SerialPort } from 'serialport';

/** The device end of a pty pair, for tests that write bytes themselves: each write waits for the port to drain. */
export class PtyWriter {
  private constructor(private readonly port: SerialPort) {}

  /** `lock: false` lets another process (device-sim) open the same end while this one holds it. */
  static async open(ttyPath: string, baudRate = 115_200, lock = true): Promise<PtyWriter> {
    const port = new SerialPort({ path: ttyPath, baudRate, autoOpen: false, lock });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('error', () => undefined);
    return new PtyWriter(port);
  }

  async write(data: string | Buffer, timeoutMs = 15_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pty write of ${data.length} bytes not drained within ${timeoutMs} ms`)), timeoutMs);
      this.port.write(data);
      this.port.drain((err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}

/** Heap in use after a full collection (`gc` is exposed through V8 flags at run time, without a CLI flag). */
export async function settledHeapBytes(): Promise<number> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
