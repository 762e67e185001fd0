/**
 * The `gatewayId` rule, apart from its schema (./config.ts) so that `tidegate status` on a stopped
 * gateway can name it without loading zod (src/config/buffer-inspection.ts). The schema uses these too.
 */
export const DEFAULT_GATEWAY_ID = 'tidegate';
export const MAX_GATEWAY_ID_LENGTH = 64;
export const GATEWAY_ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;
