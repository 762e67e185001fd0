// Module resolution hook: the embedded broker's `import('aedes')` gets the aedes 2 beta (through shim.mjs)
// instead of aedes 1.x. Only the package entry is redirected; the beta's own imports resolve as usual.
const shim = new URL('./shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'aedes' && context.parentURL !== shim) return { url: shim, shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  // A runner that resolves bare specifiers itself imports the entry file by its path.
  if (/\/node_modules\/aedes\/aedes\.js$/.test(resolved.url)) return { url: shim, shortCircuit: true };
  return resolved;
}
