import type { Admission } from '../../admission.js';
import { serialLabel } from '../serial/label.js';
import type { ModbusBusConfig, ModbusDeviceConfig } from './config.js';
import { delay, withTimeout } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import type { Reading } from '../../normalize/reading.js';
import { ModbusRequestError, openModbusSerial, type ModbusLink, type OpenModbusLink } from './modbus-link.js';
import { planRequests, type ReadRequest } from './request-plan.js';
import { decodeWords, scaleValue } from './register-codec.js';

export interface ModbusBusSourceOptions {
  bus: ModbusBusConfig;
  admission: Admission;
  metrics: Metrics;
  logger: Logger;
  open?: OpenModbusLink;
}

type PollOutcome = { ok: true; reading: Reading | null } | { ok: false; portLost: boolean };

/**
 * One Modbus RTU bus: every configured unit polled at its interval, one request on the wire at a time
 * (RS-485 is half duplex: a second master request while a reply is coming would collide). A failing unit is
 * counted and backs off; it never stops the others. A lost bus port is reopened with backoff.
 */
export class ModbusBusSource implements Component {
  readonly id: string;
  readonly name: string;
  private readonly stopping = new AbortController();
  private readonly backoff: Backoff;
  private readonly openLink: OpenModbusLink;
  private readonly warnings: RateLimitedLog;
  private link: ModbusLink | null = null;
  private linkWaiters = new Set<() => void>();
  /** The tail of the bus's request chain: each request starts after the previous one settled. */
  private busTail: Promise<unknown> = Promise.resolve();
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: ModbusBusSourceOptions) {
    this.name = serialLabel(opts.bus);
    this.id = `modbus:${this.name}`;
    this.backoff = new Backoff({ baseMs: opts.bus.reopen.baseDelayMs, maxMs: opts.bus.reopen.maxDelayMs });
    this.openLink = opts.open ?? openModbusSerial;
    this.warnings = new RateLimitedLog(opts.logger, 30_000);
  }

  get isOpen(): boolean {
    return this.link !== null;
  }

  /** Tries the first open and returns; a bus that cannot open yet is retried in the background, not fatal. */
  async start(): Promise<void> {
    const first = await this.tryOpen();
    this.loops = [this.busLoop(first), ...this.opts.bus.devices.map((d) => this.unitLoop(d))];
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    for (const wake of this.linkWaiters) wake();
    await withTimeout(Promise.allSettled(this.loops), 60_000, `modbus bus ${this.name} to stop`, deadline).catch(() => undefined);
    await this.link?.close();
    this.link = null;
  }

  private async busLoop(first: ModbusLink | null): Promise<void> {
    const signal = this.stopping.signal;
    let link = first;
    while (!signal.aborted) {
      if (!link) {
        try {
          await delay(this.backoff.next(), signal);
        } catch {
          return;
        }
        link = await this.tryOpen();
        continue;
      }
      const current = link;
      await new Promise<void>((resolve) => {
        current.onLost((err) => {
          if (!signal.aborted) this.warnings.warn('lost', { bus: this.name, path: this.opts.bus.path, err: err ? describeError(err) : undefined }, 'Modbus bus port lost; reopening with backoff');
          resolve();
        });
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (signal.aborted) return;
      this.link = null;
      link = null;
      await current.close();
      this.opts.metrics.inc('modbus_reopens_total', { bus: this.name });
    }
  }

  private async tryOpen(): Promise<ModbusLink | null> {
    const { bus, logger, metrics } = this.opts;
    try {
      const link = await this.openLink({ path: bus.path, baudRate: bus.baudRate, dataBits: bus.dataBits, parity: bus.parity, stopBits: bus.stopBits });
      if (this.stopping.signal.aborted) {
        await link.close();
        return null;
      }
      this.backoff.reset();
      this.link = link;
      logger.info({ bus: this.name, path: bus.path, baudRate: bus.baudRate, units: bus.devices.map((d) => d.unitId) }, 'Modbus bus open');
      for (const wake of this.linkWaiters) wake();
      this.linkWaiters.clear();
      return link;
    } catch (err) {
      metrics.inc('modbus_open_failures_total', { bus: this.name });
      this.warnings.warn('open', { bus: this.name, path: bus.path, err: describeError(err) }, 'cannot open Modbus bus port; retrying with backoff (check the path and that tidegate may use it: group dialout)');
      return null;
    }
  }

  private waitForLink(): Promise<void> {
    if (this.link || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.linkWaiters.add(resolve));
  }

  /** Runs `work` when every earlier request on this bus has settled. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busTail.then(work, work);
    this.busTail = run.catch(() => undefined);
    return run;
  }

  private async unitLoop(device: ModbusDeviceConfig): Promise<void> {
    const signal = this.stopping.signal;
    const requests = planRequests(device);
    const unit = String(device.unitId);
    const failures = new Backoff({ baseMs: device.intervalMs, maxMs: Math.max(device.intervalMs, device.maxBackoffMs) });
    const polls = this.opts.metrics.counter('modbus_polls_total', { bus: this.name, unit });
    while (!signal.aborted) {
      await this.waitForLink();
      if (signal.aborted) return;
      const started = Date.now();
      const outcome = await this.exclusive(() => this.poll(device, requests));
      polls.inc();
      let wait: number;
      if (outcome.ok) {
        failures.reset();
        if (outcome.reading) await this.admit(outcome.reading);
        wait = Math.max(0, device.intervalMs - (Date.now() - started));
      } else {
        // A lost port is the bus's problem, not the unit's: retry at the normal pace once it is back.
        wait = outcome.portLost ? device.intervalMs : Math.max(device.intervalMs, failures.next());
      }
      try {
        await delay(wait, signal);
      } catch {
        return;
      }
    }
  }

  private async poll(device: ModbusDeviceConfig, requests: readonly ReadRequest[]): Promise<PollOutcome> {
    const link = this.link;
    if (!link || this.stopping.signal.aborted) return { ok: false, portLost: true };
    const values: Reading['values'] = {};
    const receivedAt = Date.now();
    for (const request of requests) {
      let data: number[] | boolean[];
      try {
        data = await link.read(device.unitId, request.fn, request.address, request.count, device.timeoutMs);
        if (data.length < request.count) throw new ModbusRequestError('invalid_reply', `reply carries ${data.length} values, ${request.count} were asked for`);
      } catch (err) {
        const failure = err instanceof ModbusRequestError ? err : new ModbusRequestError('invalid_reply', describeError(err));
        this.opts.metrics.inc('modbus_errors_total', { bus: this.name, unit: String(device.unitId), reason: failure.reason });
        this.warnings.warn(
          `unit:${device.unitId}:${failure.reason}`,
          { bus: this.name, unit: device.unitId, deviceId: device.deviceId, function: request.fn, address: request.address, reason: failure.reason, detail: failure.message },
          'Modbus request failed; the unit backs off and is polled again',
        );
        return { ok: false, portLost: failure.reason === 'port_closed' };
      }
      for (const { register, offset } of request.values) {
        if (request.fn === 1 || request.fn === 2) {
          values[register.name] = Boolean(data[offset]);
        } else {
          const words = (data as number[]).slice(offset, offset + (register.type === 'int16' || register.type === 'uint16' ? 1 : 2));
          const raw = decodeWords(words, register);
          if (!Number.isFinite(raw)) {
            // A float32 register holding NaN or Infinity (a sensor fault code): the value is left out, counted.
            this.opts.metrics.inc('modbus_errors_total', { bus: this.name, unit: String(device.unitId), reason: 'non_finite_value' });
            continue;
          }
          values[register.name] = scaleValue(raw, register.scale);
        }
        if (register.unit !== undefined) values[`${register.name}.unit`] = register.unit;
      }
    }
    if (Object.keys(values).length === 0) return { ok: true, reading: null };
    return { ok: true, reading: { deviceId: device.deviceId, topic: `modbus/${this.name}/${device.unitId}`, receivedAt, values } };
  }

  private async admit(reading: Reading): Promise<void> {
    try {
      await this.opts.admission.admitReadings(this.id, [reading]);
    } catch (err) {
      // Polled values that cannot be committed are gone (the next poll reads fresh ones): counted and logged.
      this.opts.metrics.inc('modbus_readings_lost_total', { bus: this.name, reason: 'commit_failed' });
      this.opts.logger.error({ bus: this.name, deviceId: reading.deviceId, err: describeError(err) }, 'Modbus reading could not be committed to the buffer and is lost');
    }
  }
}
