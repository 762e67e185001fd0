import type { Aedes, PublishPacket } from 'aedes';

type Done = (err?: Error) => void;
type BrokerPublish = (packet: PublishPacket, client?: unknown, done?: Done) => void;

/**
 * Skips aedes' routing of a client's PUBLISH while no client can receive it.
 *
 * After the PUBACK, aedes routes every publish: a copy of the packet, a lookup of offline sessions'
 * subscriptions in its persistence (a promise), the emitter's match, two splits of the topic and the
 * `publish` event. In a gateway that only ingests, nobody has subscribed, and that routing was about a sixth
 * of what a reading allocated in a burst (issue: Pi-class efficiency; bench/RESULTS.md, End to end).
 *
 * The embedded broker keeps sessions in memory, so no subscription outlives a restart, and none can exist
 * before a client's first SUBSCRIBE. Until then, a client's publish that is not retained has nobody to go
 * to, and it completes without routing, with the outcome routing would have had: delivered to no one.
 * From the first SUBSCRIBE on (marked before it is authorized, so a subscription being added cannot miss
 * a publish that follows its SUBACK), every publish is routed as before, for the life of the broker.
 *
 * Always routed: retained publishes (the broker stores them for later subscribers) and the broker's own
 * (no client: the gateway's alarm notifications, aedes' `$SYS` heartbeats). The durable admission is not
 * affected: it happens in `authorizePublish`, before any of this.
 */
export class PublishRouting {
  private subscribed = false;
  private unrouted = 0;

  constructor(broker: Aedes) {
    const target = broker as unknown as { publish: BrokerPublish };
    const route = target.publish.bind(broker) as BrokerPublish;
    target.publish = (packet, client, done) => {
      if (this.subscribed || client === null || typeof client !== 'object' || packet.retain) return route(packet, client, done);
      this.unrouted += 1;
      // Routing completes asynchronously (its persistence lookup is a promise); so does skipping it.
      if (done) process.nextTick(done);
    };
  }

  /** A client sent SUBSCRIBE: from now on every publish is routed. */
  subscribing(): void {
    this.subscribed = true;
  }

  /** Whether publishes are routed (a client has subscribed since the broker started). */
  get routing(): boolean {
    return this.subscribed;
  }

  /** Client publishes completed without routing, because no client had subscribed yet. */
  get unroutedPublishes(): number {
    return this.unrouted;
  }
}
