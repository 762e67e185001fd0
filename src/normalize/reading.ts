/** What a source hands to admission: one message exactly as it arrived. */
export interface RawMessage {
  source: string;
  topic: string;
  payload: Buffer;
  /** Client id or port name, for dead letters and logs. */
  origin: string;
  receivedAt: number;
  /**
   * The device id when the source authenticated the device itself (a verified client certificate's CN);
   * it takes the place of the topic's {deviceId} level, so a device cannot write as another.
   */
  deviceId?: string;
}

export type ReadingValue = number | boolean | string;

/**
 * What a record in the stream is, so a consumer can tell readings from what rules made of them:
 * `reading` (from a device, possibly enriched), `aggregate` (a window's result), `alarm` (a detector's
 * state transition), `derived` (a record a rule computed from one reading).
 */
export type RecordKind = 'reading' | 'aggregate' | 'alarm' | 'derived';
export const RECORD_KINDS: readonly RecordKind[] = ['reading', 'aggregate', 'alarm', 'derived'];

/** A JSON value, for the details a rule attaches to the records it makes. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A normalized reading before it has been given its id by the buffer. */
export interface Reading {
  deviceId: string;
  topic: string;
  /** Device time (epoch ms) when the device sent one. */
  ts?: number;
  /** The device's own sequence number when it sent one. */
  seq?: number;
  receivedAt: number;
  values: Record<string, ReadingValue>;
  /** Absent means `reading`. */
  kind?: RecordKind;
  /** Descriptive fields an enrichment added (site, building, room...), kept apart from the measured values. */
  tags?: Record<string, ReadingValue>;
  /**
   * What a rule says about a record it made: the rule name, a window's start and end, the group key, the
   * count and the readings it came from; an alarm's transition and threshold. Absent on device readings.
   */
  result?: { readonly [key: string]: JsonValue };
}

/**
 * Stable reasons for rejecting a message; they label counters and dead letters. Listed as values so the
 * counters can be declared at 0 for each from the start (a series that appears only on its first increment
 * cannot be told apart from one that is not collected).
 */
export const REJECT_REASONS = [
  'empty_payload',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'non_finite_number',
  'unsupported_value',
  'no_values',
  'invalid_ts',
  'invalid_seq',
  'topic_mismatch',
  'invalid_device_id',
  'payload_too_large',
  'packet_too_large',
  'frame_too_large',
  'invalid_frame',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  reason: RejectReason;
  message: string;
}

export type DecodeResult = { ok: true; reading: Reading } | { ok: false; rejection: Rejection };
