/**
 * Acknowledgements in arrival order, each after its own durable commit. MQTT requires PUBACKs (QoS 1) and
 * PUBRECs (QoS 2) in the order the PUBLISHes arrived [MQTT-4.6.0-2, MQTT-4.6.0-3]; a commit that fails stops
 * every later acknowledgement on this connection, so the broker redelivers from the first unstored message
 * on (later ones that were stored arrive twice: at-least-once, each with its own record id).
 * One instance per connection: acknowledgements never cross to a later connection.
 */
interface Entry {
  state: 'pending' | 'stored';
  ack: (() => void) | null;
}

export class OrderedAcks {
  private readonly entries: Entry[] = [];
  private failure: unknown = null;

  /** `onFailure` runs once, for the first commit that fails. */
  constructor(private readonly onFailure: (err: unknown) => void) {}

  /** Appends a message whose commit is `stored`; `ack` (null for QoS 0) runs once it and all before it are stored. */
  push(stored: Promise<void>, ack: (() => void) | null): void {
    const entry: Entry = { state: 'pending', ack };
    this.entries.push(entry);
    stored.then(
      () => {
        entry.state = 'stored';
        this.flush();
      },
      (err: unknown) => this.fail(err),
    );
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /** Messages handed over whose acknowledgement has not been sent yet. */
  get waiting(): number {
    return this.entries.length;
  }

  private flush(): void {
    if (this.failure !== null) return;
    while (this.entries.length > 0 && this.entries[0]!.state === 'stored') this.entries.shift()!.ack?.();
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err ?? new Error('commit failed');
    this.entries.length = 0;
    this.onFailure(err);
  }
}
