/**
 * TIDEGATE_TEST_BROKER=aedes-next runs the tests on the aedes 2.0.0-beta.1 broker (MQTT 5) in place of aedes 1.x,
 * unchanged: vitest.config.ts then loads test/helpers/aedes-next/register.mjs into every test worker and, through
 * NODE_OPTIONS, into every child gateway, and `aedes` resolves to the beta. The beta is not a dependency
 * (docs/concepts/mqtt5-evaluation.md says why); install it first, without saving:
 *   npm install --no-save aedes-next@npm:aedes@2.0.0-beta.1
 */
import { createRequire } from 'node:module';

export type TestBrokerLine = 'aedes' | 'aedes-next';

export const AEDES_NEXT_INSTALL = 'npm install --no-save aedes-next@npm:aedes@2.0.0-beta.1';

export function testBrokerLine(env: NodeJS.ProcessEnv = process.env): TestBrokerLine {
  const value = env.TIDEGATE_TEST_BROKER;
  if (value === undefined || value === '' || value === 'aedes') return 'aedes';
  if (value !== 'aedes-next') throw new Error(`TIDEGATE_TEST_BROKER=${value}: expected aedes (the default) or aedes-next`);
  try {
    createRequire(import.meta.url).resolve('aedes-next');
  } catch {
    throw new Error(`TIDEGATE_TEST_BROKER=aedes-next, but aedes-next is not installed: run \`${AEDES_NEXT_INSTALL}\` (a later \`npm ci\` removes it again)`);
  }
  return 'aedes-next';
}
