/**
 * Last-seen time and count per device, for the dashboard. Bounded: beyond `max` devices the one seen
 * longest ago is forgotten (a Map keeps insertion order, and a device seen again moves to the end).
 */
export class DeviceActivity {
  private readonly devices = new Map<string, { lastSeen: number; count: number }>();

  constructor(private readonly max = 10_000) {}

  seen(deviceId: string, at: number): void {
    const entry = this.devices.get(deviceId);
    if (entry) {
      this.devices.delete(deviceId);
      entry.lastSeen = at;
      entry.count += 1;
      this.devices.set(deviceId, entry);
      return;
    }
    if (this.devices.size >= this.max) this.devices.delete(this.devices.keys().next().value!);
    this.devices.set(deviceId, { lastSeen: at, count: 1 });
  }

  /** The most recently seen devices, newest first. */
  recent(limit: number): Array<{ deviceId: string; lastSeen: number; count: number }> {
    const out: Array<{ deviceId: string; lastSeen: number; count: number }> = [];
    const all = [...this.devices.entries()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) out.push({ deviceId: all[i]![0], ...all[i]![1] });
    return out;
  }

  get size(): number {
    return this.devices.size;
  }
}
