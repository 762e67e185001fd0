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

/** A normalized reading before it has been given its id by the queue. */
export interface Reading {
  deviceId: string;
  topic: string;
  /** Device time (epoch ms) when the device sent one. */
  ts?: number;
  /** The device's own sequence number when it sent one. */
  seq?: number;
  receivedAt: number;
  values: Record<string, ReadingValue>;
}

/** Stable reasons for rejecting a message; they label counters and dead letters. */
export type RejectReason =
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_an_object'
  | 'non_finite_number'
  | 'unsupported_value'
  | 'no_values'
  | 'invalid_ts'
  | 'invalid_seq'
  | 'topic_mismatch'
  | 'invalid_device_id'
  | 'payload_too_large'
  | 'packet_too_large'
  | 'frame_too_large'
  | 'invalid_frame';

export interface Rejection {
  reason: RejectReason;
  message: string;
}

export type DecodeResult = { ok: true; reading: Reading } | { ok: false; rejection: Rejection };
