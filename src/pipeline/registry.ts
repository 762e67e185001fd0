import { TidegateError } from '../core/errors.js';
import type { Transform } from './transform.js';

/**
 * One `transforms[]` entry (or rule stage) as config validation leaves it: the type and that type's own
 * keys, defaults filled in by the type's schema slice (`src/pipeline/transform-schemas.ts`).
 */
export interface TransformEntry {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** How a transform type is built from its validated config slice. */
export interface TransformFactory<C = never> {
  readonly type: string;
  create(config: C, id: string): Transform;
}

// The running side of the registry holds no schemas: the config is validated (in a worker thread at `run`,
// see src/config/load-in-worker.ts) before the gateway starts, so the gateway's heap never holds zod or the
// config's schemas (issue: Pi-class efficiency). The schema of each type is registered in
// transform-schemas.ts, from the type's own `*-schema.ts` file.
const factories = new Map<string, TransformFactory<any>>();

/**
 * Makes a transform type buildable. A new transform lives in its own file with its factory (and a
 * `*-schema.ts` beside it with its schema slice, registered with `registerTransformSchema`).
 */
export function registerTransform<C>(factory: TransformFactory<C>): void {
  if (factories.has(factory.type)) throw new TidegateError('ERR_CONFIG_INVALID', `transform type "${factory.type}" is registered twice`);
  factories.set(factory.type, factory);
}

export function transformFactory(type: string): TransformFactory<any> | undefined {
  return factories.get(type);
}

/** The types that can be built, sorted. */
export function transformTypes(): string[] {
  return [...factories.keys()].sort();
}
