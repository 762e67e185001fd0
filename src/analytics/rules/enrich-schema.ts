import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';

/** `enrich` (enrich-stage.ts): the device registry file and what to do with devices it does not list. */
export const enrichStageSchema = z
  .strictObject({
    registry: z
      .string()
      .min(1)
      .describe('The device registry file (a relative path is relative to the directory tidegate runs in, like every path in the config): CSV with a header row (deviceId,site,building,floor,room,type,...) or YAML/JSON (a map of device id → fields, or a list of entries). Re-read when it changes, without a restart.'),
    idField: z.string().min(1).default('deviceId').describe('The column (CSV) or key (list entries) holding the device id. Default deviceId.'),
    fields: z.array(z.string().min(1)).min(1).max(64).optional().describe('Only these registry fields are added; all when absent.'),
    unknown: z
      .enum(['pass', 'tag', 'filter', 'dead_letter'])
      .default('tag')
      .describe('A reading of a device the registry does not list: `pass` it as it is, `tag` it with tags.registry = "unknown" (default), `filter` it (counted), or `dead_letter` it (kept in the dead letters with the reason unknown_device, replayable). Every case is counted in enrich_unknown_devices_total.'),
    reloadCheckMs: z.number().int().min(100).max(3_600_000).default(5_000).describe('How often (ms) the file\'s size and modification time are checked; it is re-read only when they changed. A file that fails to load keeps the previous registry in use (logged, enrich_registry_reload_errors_total). Default 5000.'),
  })
  .describe('Adds the device registry\'s fields (site, building, floor, room, type, units...) to readings, as tags.');

export type EnrichStageConfig = z.infer<typeof enrichStageSchema>;

registerTransformSchema({ type: 'enrich', schema: enrichStageSchema });
