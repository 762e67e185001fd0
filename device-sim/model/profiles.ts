/**
 * Built-in device profiles: what a kind of sensor reports and how its values
 * move. Short names, because they appear in device ids ("{profile}-{i:04}" gives
 * th-0001). Scenario files can extend these or define their own. Written in the
 * scenario syntax and parsed with the same schema, so a built-in profile can
 * never be something a user could not have written.
 */
import { profileSchema, type ProfileDoc } from '../scenario/schema.js';

const docs: Record<string, unknown> = {
  th: {
    description: 'smart building: room temperature (°C) with a daily cycle, humidity (%RH) running opposite to it',
    fields: {
      temperature: {
        type: 'sum',
        of: [
          { type: 'sine', mean: 21.5, amplitude: 1.5, period: '24h', peakAt: '15h' },
          { type: 'randomWalk', step: 0.3, reversion: 0.02 },
        ],
        spread: 1.5,
        min: 10,
        max: 35,
        round: 1,
      },
      humidity: {
        type: 'sum',
        of: [
          { type: 'sine', mean: 47, amplitude: -5, period: '24h', peakAt: '15h' },
          { type: 'randomWalk', step: 1, reversion: 0.02 },
        ],
        spread: 7,
        min: 15,
        max: 85,
        round: 1,
      },
    },
  },
  occ: {
    description: 'smart building: people in a room, following office hours (UTC), near zero at night and at weekends',
    fields: { occupancy: { type: 'occupancy', capacity: 12, peakAt: '13h' } },
  },
  co2: {
    description: 'smart building: CO2 (ppm) following the room occupancy with a lag; occupancy itself is not sent',
    fields: {
      occupancy: { type: 'occupancy', capacity: 10, peakAt: '13h', emit: false },
      co2: {
        type: 'sum',
        of: [
          { type: 'follow', field: 'occupancy', scale: 55, offset: 430, smoothing: 0.8 },
          { type: 'randomWalk', step: 15, reversion: 0.05 },
        ],
        spread: 30,
        min: 400,
        max: 5000,
        round: 0,
      },
    },
  },
  energy: {
    description: 'smart building: electricity meter, power (W) following office hours and cumulative energy (kWh)',
    fields: {
      power_w: {
        type: 'sum',
        of: [
          { type: 'occupancy', capacity: 2500, peakAt: '13h' },
          { type: 'constant', value: 350 },
          { type: 'noise', sd: 40 },
        ],
        min: 0,
        round: 0,
      },
      energy_kwh: { type: 'counter', start: 12_000, perHourFrom: 'power_w', scale: 0.001, spread: 8_000, round: 3 },
    },
  },
  door: {
    description: 'smart building: door contact, true while open',
    fields: { open: { type: 'toggle', onProbability: 0.05, offProbability: 0.6 } },
  },
  vibration: {
    description: 'industrial: bearing vibration velocity (mm/s RMS) with occasional shocks, and bearing temperature (°C)',
    fields: {
      vibration_mm_s: {
        type: 'sum',
        of: [
          { type: 'randomWalk', start: 2.2, step: 0.15, reversion: 0.1 },
          { type: 'spike', probability: 0.01, magnitude: 9 },
        ],
        spread: 0.6,
        min: 0,
        round: 2,
      },
      bearing_temp_c: {
        type: 'sum',
        of: [
          { type: 'follow', field: 'vibration_mm_s', scale: 1.5, offset: 48, smoothing: 0.95 },
          { type: 'noise', sd: 0.2 },
        ],
        round: 1,
      },
    },
  },
  pressure: {
    description: 'industrial: line pressure (bar) holding set points that change every few minutes, with sensor noise',
    fields: {
      pressure_bar: {
        type: 'sum',
        of: [
          { type: 'step', levels: [4.0, 5.5, 6.2], hold: '5m' },
          { type: 'noise', sd: 0.04 },
        ],
        min: 0,
        round: 3,
      },
    },
  },
};

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileDoc>> = Object.freeze(
  Object.fromEntries(Object.entries(docs).map(([name, doc]) => [name, profileSchema.parse(doc)])),
);
