import type { ConfigProblem } from './problem.js';
import type { Config } from './schema.js';

/** Routes that cannot work as configured, found before anything starts. */
export function routeProblems(config: Pick<Config, 'routes' | 'kinesis' | 'firehose'>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.routes.forEach((route, i) => {
    if (route.firehose !== undefined && config.kinesis.endpoint === 'local' && config.firehose.endpoint === undefined) {
      problems.push({
        path: `routes[${i}].firehose`,
        message:
          'the bundled local emulator has no Firehose: set firehose.endpoint to a Firehose-compatible endpoint, ' +
          'forward to AWS (remove kinesis.endpoint), or remove this route',
      });
    }
    if (route.kinesis !== undefined && route.kinesis === config.kinesis.streamName) {
      problems.push({ path: `routes[${i}].kinesis`, message: `"${route.kinesis}" is kinesis.streamName, where unmatched readings go anyway: remove the route or name another stream` });
    }
  });
  return problems;
}
