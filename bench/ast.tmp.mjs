import { Environment } from '@marcbachmann/cel-js';
const env = new Environment({ unlistedVariablesAreDyn: true }).registerFunction('abs(double): double', (x) => Math.abs(x));
for (const src of ['has(values.temperature) ? temperature * 9 / 5 + 2 : 0.0', '!has(values.t) || (t > -100.0 && t < 200.0)', 'abs(x) + tags.room', '"a" + s', 'values["x y"]', 'true', '-x', 'x.y.z', 'f(1)']) {
  let p; try { p = env.parse(src); p.check(); } catch (e) { console.log(src, 'ERR', e.message.split('\n')[0]); continue; }
  const show = (n) => { if (n === null || typeof n !== 'object' || !('op' in n)) return typeof n === 'bigint' ? n + 'n' : (n && typeof n === "object" ? "<" + (n.constructor?.name) + ">" : JSON.stringify(n) ?? String(n)); const a = Array.isArray(n.args) ? n.args.map(show).join(', ') : show(n.args); return `${n.op}(${a})${n.macro ? '[macro]' : ''}`; };
  console.log(src, '=>', show(p.ast));
}
const p = env.parse('has(values.temperature)'); console.log(Object.keys(p.ast), p.ast.args, Object.keys(p.ast.args[1] ?? {}));
