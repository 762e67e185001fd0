import { loadConfig } from '../config/load.js';

/** `tidegate check-config FILE`: validates and prints the effective config (defaults filled in). */
export async function checkConfigCommand(file: string, print: boolean): Promise<number> {
  const config = await loadConfig(file);
  if (print) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  else process.stdout.write(`${file}: configuration is valid\n`);
  return 0;
}
