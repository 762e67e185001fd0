import { z } from 'zod';
import { positiveInt } from '../config/primitives.js';
import { DEFAULT_GATEWAY_ID, GATEWAY_ID_PATTERN, MAX_GATEWAY_ID_LENGTH } from './gateway-id.js';

/** The gateway-wide slices: its id, logging and the shutdown deadline. */

export const gatewayIdSchema = z
  .string()
  .min(1)
  .max(MAX_GATEWAY_ID_LENGTH)
  .regex(GATEWAY_ID_PATTERN, 'only letters, digits, "_", ".", ":" and "-"')
  .default(DEFAULT_GATEWAY_ID)
  .describe('Prefix of every record id (`<gatewayId>-<sequence>`); must be unique among the gateways that write to one stream. Override: TIDEGATE_GATEWAY_ID.');

export const logSchema = z
  .object({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
      .default('info')
      .describe('Lowest level logged. ERROR means data loss or operator action; `debug` and `trace` are for finding a problem, not for running. Override: TIDEGATE_LOG_LEVEL.'),
  })
  .strict()
  .default({ level: 'info' })
  .describe('Logging: JSON lines on stdout, human-readable on a terminal.');

export const shutdownSchema = z
  .object({
    deadlineMs: positiveInt.max(600_000).default(10_000).describe('Milliseconds SIGTERM/SIGINT waits for admissions and calls in flight before the process exits.'),
  })
  .strict()
  .default({ deadlineMs: 10_000 })
  .describe('The one shutdown path, from a signal or a fatal start error.');
