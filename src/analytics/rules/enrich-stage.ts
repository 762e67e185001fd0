import { deadLetter, filter, pass, type StateOp, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { registerTransform } from '../../pipeline/registry.js';
import type { EnrichStageConfig } from './enrich-schema.js';
import { withFields } from '../../pipeline/reading-copy.js';
import type { PendingReading } from '../../buffer/types.js';
import type { ReadingValue } from '../../normalize/reading.js';
import { describeError } from '../../core/errors.js';
import { loadDeviceRegistry, stampOf, type DeviceEntry, type DeviceRegistry, type FileStamp } from './device-registry.js';

/**
 * `enrich`: joins readings with a device registry file on the device id (eKuiper's table join, Telegraf's
 * lookup processor). The fields become tags, kept apart from measured values, so windows can group by room
 * or floor. The registry's version is checkpointed: after a restart, the log says whether the state was made
 * with another registry than the one now loaded.
 */
export class EnrichStage implements Transform {
  private registry: DeviceRegistry;
  private stamp: FileStamp | null;
  private nextCheck = 0;
  private versionDirty = true;
  private restoredVersion: string | undefined;

  constructor(
    readonly id: string,
    private readonly config: EnrichStageConfig,
  ) {
    // A registry that cannot be loaded at start is a config error: the gateway does not start half-enriched.
    this.stamp = stampOf(config.registry);
    this.registry = loadDeviceRegistry(config.registry, config.idField);
  }

  get devices(): number {
    return this.registry.devices.size;
  }

  get version(): string {
    return this.registry.version;
  }

  attach(ctx: TransformContext): void {
    ctx.metrics.counter('enrich_unknown_devices_total', { stage: this.id });
    ctx.metrics.counter('enrich_registry_reloads_total', { stage: this.id });
    ctx.metrics.counter('enrich_registry_reload_errors_total', { stage: this.id });
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    const entry = this.registry.devices.get(reading.deviceId);
    if (entry) return pass(withFields(reading, reading.values, { ...reading.tags, ...this.selected(entry) }));
    ctx.metrics.inc('enrich_unknown_devices_total', { stage: this.id });
    switch (this.config.unknown) {
      case 'pass':
        return pass(reading);
      case 'tag':
        return pass(withFields(reading, reading.values, { ...reading.tags, registry: 'unknown' }));
      case 'filter':
        return filter('unknown_device');
      case 'dead_letter':
        return deadLetter('unknown_device', `device ${JSON.stringify(reading.deviceId)} is not in the registry ${this.config.registry}; add it and replay the dead letters`);
    }
  }

  private selected(entry: DeviceEntry): Record<string, ReadingValue> {
    if (!this.config.fields) return entry;
    const out: Record<string, ReadingValue> = {};
    for (const name of this.config.fields) if (entry[name] !== undefined) out[name] = entry[name];
    return out;
  }

  /** Re-reads the registry when the file changed; a broken file keeps the one in use. */
  onTime(now: number, ctx: TransformContext): [] {
    if (now < this.nextCheck) return [];
    this.nextCheck = now + this.config.reloadCheckMs;
    const stamp = stampOf(this.config.registry);
    if (stamp && this.stamp && stamp.size === this.stamp.size && stamp.mtimeMs === this.stamp.mtimeMs) return [];
    try {
      const next = loadDeviceRegistry(this.config.registry, this.config.idField);
      this.stamp = stamp;
      if (next.version === this.registry.version) return [];
      this.registry = next;
      this.versionDirty = true;
      ctx.metrics.inc('enrich_registry_reloads_total', { stage: this.id });
      ctx.logger.info({ stage: this.id, registry: this.config.registry, devices: next.devices.size, version: next.version }, 'device registry reloaded');
    } catch (error) {
      this.stamp = stamp;
      ctx.metrics.inc('enrich_registry_reload_errors_total', { stage: this.id });
      ctx.logger.error({ stage: this.id, registry: this.config.registry, err: describeError(error), keptVersion: this.registry.version }, 'the device registry changed but cannot be loaded; the previous one stays in use until the file is fixed');
    }
    return [];
  }

  checkpoint(): readonly StateOp[] {
    if (!this.versionDirty) return [];
    this.versionDirty = false;
    return [{ type: 'put', key: 'version', value: this.registry.version }];
  }

  restore(state: ReadonlyMap<string, string>): void {
    this.restoredVersion = state.get('version');
    this.versionDirty = this.restoredVersion !== this.registry.version;
  }

  /** The registry version the checkpointed state was made with, when it differs from the one loaded. */
  get changedSinceCheckpoint(): string | undefined {
    return this.restoredVersion !== undefined && this.restoredVersion !== this.registry.version ? this.restoredVersion : undefined;
  }
}

registerTransform<EnrichStageConfig>({ type: 'enrich', create: (config, id) => new EnrichStage(id, config) });
