import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { testBrokerLine } from './test/helpers/test-broker.js';

// TIDEGATE_TEST_BROKER=aedes-next: `aedes` resolves to the aedes 2 beta in the test workers (execArgv) and in
// the child gateways they spawn (NODE_OPTIONS, which childEnv passes on). See test/helpers/test-broker.ts.
const brokerHook = testBrokerLine() === 'aedes-next' ? fileURLToPath(new URL('./test/helpers/aedes-next/register.mjs', import.meta.url)) : null;
const childOptions = brokerHook ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${brokerHook}`].filter(Boolean).join(' ') } : {};

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration tests start brokers, stores and child processes; two cores, so two workers.
    maxWorkers: 2,
    execArgv: brokerHook ? [`--import=${brokerHook}`] : [],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...childOptions },
  },
});
