import type { Admission } from '../../admission.js';
import type { SerialPortConfig } from './config.js';
import { serialLabel } from './label.js';
import { delay, withTimeout } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Counter, Metrics } from '../../core/metrics.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { LineFramer } from './line-framer.js';
import { LineParser } from './line-parser.js';
import { ReadingBatcher } from './reading-batcher.js';
import { serialportOpener, type OpenSerialLink, type SerialLink } from './serialport-link.js';

export interface SerialSourceOptions {
  port: SerialPortConfig;
  admission: Admission;
  metrics: Metrics;
  logger: Logger;
  /** How ports are opened; serialport with the platform binding unless a test passes the mock binding's. */
  open?: OpenSerialLink;
}

export type ReopenReason = 'closed' | 'error' | 'silence';


/**
 * One serial port as a source: lines framed with a cap, parsed in the port's framing, batched into group
 * commits. A serial line has no acknowledgement and no retransmission, so the port is paused while too many
 * readings wait for their commit (the device's UART buffer holds the rest), and a port that closes, fails or
 * falls silent is reopened with jittered exponential backoff (serialport never reopens by itself).
 */
export class SerialPortSource implements Component {
  readonly id: string;
  readonly name: string;
  private readonly framer: LineFramer;
  private readonly parser: LineParser;
  private readonly batcher: ReadingBatcher;
  private readonly backoff: Backoff;
  private readonly openLink: OpenSerialLink;
  private readonly warnings: RateLimitedLog;
  private readonly frames: Counter;
  private readonly bytes: Counter;
  private readonly stopping = new AbortController();
  private link: SerialLink | null = null;
  private loop: Promise<void> | null = null;
  private lastByteAt = 0;
  private opened = false;

  constructor(private readonly opts: SerialSourceOptions) {
    const { port, metrics } = opts;
    this.name = serialLabel(port);
    this.id = `serial:${this.name}`;
    this.framer = new LineFramer(port.maxFrameBytes);
    this.parser = new LineParser({
      framing: port.framing,
      deviceId: port.deviceId,
      deviceIdField: port.deviceIdField,
      columns: port.columns,
      headerPrefix: port.headerPrefix,
      topic: `serial/${this.name}`,
      maxFrameBytes: port.maxFrameBytes,
    });
    this.batcher = new ReadingBatcher({
      portName: this.name,
      origin: port.path,
      maxPending: port.maxPendingReadings,
      admission: opts.admission,
      metrics,
      logger: opts.logger,
      onPressure: (paused) => this.onPressure(paused),
    });
    this.backoff = new Backoff({ baseMs: port.reopen.baseDelayMs, maxMs: port.reopen.maxDelayMs });
    this.openLink = opts.open ?? serialportOpener();
    this.warnings = new RateLimitedLog(opts.logger, 30_000);
    this.frames = metrics.counter('serial_frames_total', { port: this.name });
    this.bytes = metrics.counter('serial_bytes_total', { port: this.name });
  }

  /** Whether the port is open right now. */
  get isOpen(): boolean {
    return this.link !== null;
  }

  /**
   * Tries the first open and returns: a port that is missing at boot (an adapter not yet plugged in) is not
   * fatal; it is retried in the background like a lost one.
   */
  async start(): Promise<void> {
    const first = await this.tryOpen();
    this.loop = this.run(first);
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    await this.loop?.catch(() => undefined);
    // Readings already parsed are committed if the deadline allows; after it they are abandoned, counted.
    await withTimeout(this.batcher.idle(), 60_000, 'serial commits', deadline).catch(() => this.batcher.abandon('shutdown'));
  }

  private async run(first: SerialLink | null): Promise<void> {
    let link = first;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      if (!link) {
        const wait = this.backoff.next();
        try {
          await delay(wait, signal);
        } catch {
          return;
        }
        link = await this.tryOpen();
        continue;
      }
      const reason = await this.serve(link);
      link = null;
      if (signal.aborted) return;
      this.opts.metrics.inc('serial_reopens_total', { port: this.name, reason });
    }
  }

  private async tryOpen(): Promise<SerialLink | null> {
    const { port, logger, metrics } = this.opts;
    try {
      const link = await this.openLink({ path: port.path, baudRate: port.baudRate, dataBits: port.dataBits, parity: port.parity, stopBits: port.stopBits }, this.stopping.signal);
      if (this.stopping.signal.aborted) {
        await link.close();
        return null;
      }
      this.backoff.reset();
      logger.info({ port: this.name, path: port.path, baudRate: port.baudRate, framing: port.framing }, this.opened ? 'serial port reopened' : 'serial port open');
      this.opened = true;
      return link;
    } catch (err) {
      metrics.inc('serial_open_failures_total', { port: this.name });
      this.warnings.warn(
        'open',
        { port: this.name, path: port.path, err: describeError(err) },
        'cannot open serial port; retrying with backoff (check the path, that the adapter is plugged in, and that tidegate may use it: group dialout)',
      );
      return null;
    }
  }

  /** Reads from an open link until it is lost, falls silent or the source stops; says why it ended. */
  private serve(link: SerialLink): Promise<ReopenReason> {
    const { port } = this.opts;
    this.link = link;
    this.parser.reset();
    this.lastByteAt = Date.now();
    if (this.batcher.paused) link.pause();
    return new Promise<ReopenReason>((resolve) => {
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (reason: ReopenReason, err?: Error): void => {
        if (this.link !== link) return;
        this.link = null;
        clearInterval(watchdog);
        this.stopping.signal.removeEventListener('abort', onStop);
        // What was left of a line when the port went away is incomplete: dead-lettered, not guessed at.
        this.framer.flushPartial(this.frameSink(Date.now(), true));
        this.batcher.flush();
        if (!this.stopping.signal.aborted) {
          this.warnings.warn(`lost:${reason}`, { port: this.name, path: port.path, reason, err: err ? describeError(err) : undefined }, 'serial port lost; reopening with backoff');
        }
        void link.close().then(() => resolve(reason));
      };
      const onStop = (): void => finish('closed');
      this.stopping.signal.addEventListener('abort', onStop, { once: true });
      link.onLost((reason, err) => finish(reason, err));
      link.onData((chunk) => this.onChunk(chunk));
      if (port.silenceTimeoutMs > 0) {
        watchdog = setInterval(() => {
          // A paused port reads nothing by design: silence is only a fault while we are reading.
          if (!this.batcher.paused && Date.now() - this.lastByteAt > port.silenceTimeoutMs) finish('silence');
        }, Math.max(10, Math.min(1_000, port.silenceTimeoutMs / 4))).unref();
      }
    });
  }

  private onChunk(chunk: Buffer): void {
    const now = Date.now();
    this.lastByteAt = now;
    this.bytes.inc(chunk.length);
    this.framer.push(chunk, this.frameSink(now, false));
    this.batcher.flush();
  }

  private frameSink(receivedAt: number, partial: boolean) {
    const { port } = this.opts;
    return {
      frame: (line: Buffer): void => {
        this.frames.inc();
        if (partial) {
          this.batcher.reject(Buffer.from(line), { reason: 'invalid_frame', message: `line of ${line.length} bytes cut off when the port closed (no newline)` }, receivedAt);
          return;
        }
        const result = this.parser.parse(line, receivedAt);
        if (result.kind === 'reading') this.batcher.add(result.reading);
        else if (result.kind === 'rejected') this.batcher.reject(Buffer.from(line), result.rejection, receivedAt);
      },
      oversize: (total: number, sample: Buffer): void => {
        this.frames.inc();
        this.batcher.reject(
          sample,
          {
            reason: 'frame_too_large',
            message: `line of ${total} bytes exceeds serial[].maxFrameBytes (${port.maxFrameBytes}); discarded up to the next newline, the first ${sample.length} bytes kept (binary noise, or a baud rate mismatch)`,
          },
          receivedAt,
        );
      },
    };
  }

  private onPressure(paused: boolean): void {
    if (paused) this.link?.pause();
    else {
      this.lastByteAt = Date.now();
      this.link?.resume();
    }
  }
}
