import { z } from 'zod';

/** Building blocks the config slices share. Each slice describes its own keys; these carry no description. */
export const port = z.number().int().min(0).max(65535);
export const positiveInt = z.number().int().positive();
