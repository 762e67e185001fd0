// Loaded with `node --import` (through NODE_OPTIONS, set by vitest.config.ts when TIDEGATE_TEST_BROKER=aedes-next),
// in the test workers and in every child gateway they spawn: `aedes` then resolves to shim.mjs.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
