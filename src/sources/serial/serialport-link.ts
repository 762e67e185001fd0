import { SerialPort, type SerialPortMock } from 'serialport';

/**
 * The one file that touches `serialport`: an open port as a narrow, promise-based link. serialport does not
 * reopen a port that went away (an unplugged USB adapter); the link reports the loss once and the source
 * decides when to open a new one.
 */
export interface SerialLineSettings {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
}

/** serialport's injectable binding: the platform's by default, `@serialport/binding-mock` in unit tests. */
export type SerialBinding = (typeof SerialPort)['binding'] | typeof SerialPortMock.binding;

export interface SerialLink {
  /** Bytes as they arrive. */
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once, when the port closed or failed (the device went away, a read error, close()). */
  onLost(listener: (reason: 'closed' | 'error', err?: Error) => void): void;
  /** Stops reading: the kernel's buffer fills, then the device's writes block or overflow on its side. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export type OpenSerialLink = (settings: SerialLineSettings, signal: AbortSignal) => Promise<SerialLink>;

/** Opens a port through serialport (or through `binding` when given). */
export function serialportOpener(binding?: SerialBinding): OpenSerialLink {
  return async (settings, signal) => {
    const port = new SerialPort({ ...settings, autoOpen: false, ...(binding ? { binding } : {}) } as ConstructorParameters<typeof SerialPort>[0]);
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new Error('opening the port was aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      port.open((err) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      });
    }).catch((err: unknown) => {
      if (port.isOpen) port.close(() => undefined);
      throw err;
    });
    return new SerialportLink(port);
  };
}

export class SerialportLink implements SerialLink {
  private lost: ((reason: 'closed' | 'error', err?: Error) => void) | undefined;
  private done = false;

  constructor(readonly port: SerialPort) {
    // A read error on a vanished device closes the stream with a DisconnectedError ('close' carries it);
    // other errors arrive as 'error' and leave the stream unusable.
    port.on('close', (err?: Error | null) => this.report(err ? 'error' : 'closed', err ?? undefined));
    port.on('error', (err: Error) => this.report('error', err));
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.port.on('data', listener);
  }

  onLost(listener: (reason: 'closed' | 'error', err?: Error) => void): void {
    this.lost = listener;
  }

  pause(): void {
    this.port.pause();
  }

  resume(): void {
    this.port.resume();
  }

  close(): Promise<void> {
    this.done = true;
    return new Promise((resolve) => {
      if (!this.port.isOpen) {
        this.port.destroy();
        return resolve();
      }
      this.port.close(() => {
        this.port.destroy();
        resolve();
      });
    });
  }

  private report(reason: 'closed' | 'error', err?: Error): void {
    if (this.done) return;
    this.done = true;
    // An errored stream may still hold the file descriptor open.
    if (this.port.isOpen) this.port.close(() => undefined);
    this.lost?.(reason, err);
  }
}
