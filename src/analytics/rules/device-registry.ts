import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TidegateError } from '../../core/errors.js';
import type { ReadingValue } from '../../normalize/reading.js';

// yaml is loaded with the first YAML or JSON registry rather than with every gateway (a CSV registry, or no
// enrich stage, needs none of it): the running gateway keeps the config's parsers out of its heap (see
// src/config/load-in-worker.ts). It is a CommonJS package, so a synchronous require loads the same module
// the config side imports.
let yaml: typeof import('yaml') | undefined;
function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

/** One device's descriptive fields (site, building, floor, room, type, units, anything). */
export type DeviceEntry = Readonly<Record<string, ReadingValue>>;

/** A loaded device registry: what the file said, and a version that changes when its content does. */
export interface DeviceRegistry {
  readonly devices: ReadonlyMap<string, DeviceEntry>;
  /** sha256 of the file's bytes, first 16 hex digits. */
  readonly version: string;
}

/** Size and modification time: checked on the pipeline's tick, the file re-read only when they change. */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
}

const MAX_BYTES = 16 * 1024 * 1024;
const MAX_DEVICES = 1_000_000;

export function stampOf(file: string): FileStamp | null {
  try {
    const s = statSync(file);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * Reads a registry: CSV with a header row (`deviceId,site,building,floor,room,type`) or YAML/JSON, either a
 * map of device id → fields or a list of objects holding the id column. Throws a TidegateError naming the
 * file, the line (CSV) or device and what to fix.
 */
export function loadDeviceRegistry(file: string, idField: string): DeviceRegistry {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw registryError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path (relative to the directory tidegate runs in)`);
  }
  if (bytes.length > MAX_BYTES) throw registryError(file, `is ${bytes.length} bytes; at most ${MAX_BYTES} are read`);
  const text = bytes.toString('utf8');
  const ext = path.extname(file).toLowerCase();
  const devices = ext === '.csv' ? parseCsvRegistry(file, text, idField) : parseStructuredRegistry(file, text, idField);
  return { devices, version: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

function parseCsvRegistry(file: string, text: string, idField: string): Map<string, DeviceEntry> {
  const rows = parseCsv(file, text);
  const header = rows.shift();
  if (!header) throw registryError(file, 'is empty; the first line must name the columns, one of them ' + JSON.stringify(idField));
  const idColumn = header.cells.indexOf(idField);
  if (idColumn < 0) throw registryError(file, `line 1: no column ${JSON.stringify(idField)} (columns: ${header.cells.join(', ')}); set idField to the column holding the device id`);
  const devices = new Map<string, DeviceEntry>();
  for (const row of rows) {
    if (row.cells.length === 1 && row.cells[0] === '') continue;
    if (row.cells.length !== header.cells.length) throw registryError(file, `line ${row.line}: ${row.cells.length} columns where the header has ${header.cells.length}`);
    const id = row.cells[idColumn]!;
    if (id === '') throw registryError(file, `line ${row.line}: empty ${idField}`);
    if (devices.has(id)) throw registryError(file, `line ${row.line}: device ${JSON.stringify(id)} is listed twice`);
    const entry: Record<string, ReadingValue> = {};
    header.cells.forEach((name, i) => {
      if (i !== idColumn && row.cells[i] !== '') entry[name] = row.cells[i]!;
    });
    devices.set(id, entry);
    if (devices.size > MAX_DEVICES) throw registryError(file, `holds more than ${MAX_DEVICES} devices`);
  }
  return devices;
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks. */
function parseCsv(file: string, text: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell.trim());
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      cells.push(cell.trim());
      rows.push({ line: rowLine, cells });
      cells = [];
      cell = '';
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (quoted) throw registryError(file, `line ${rowLine}: a quoted field is not closed`);
  if (cell !== '' || cells.length > 0) {
    cells.push(cell.trim());
    rows.push({ line: rowLine, cells });
  }
  return rows;
}

function parseStructuredRegistry(file: string, text: string, idField: string): Map<string, DeviceEntry> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw registryError(file, `is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const devices = new Map<string, DeviceEntry>();
  const add = (id: unknown, fields: unknown, where: string): void => {
    if (typeof id !== 'string' && typeof id !== 'number') throw registryError(file, `${where}: the device id (${idField}) must be a string`);
    const key = String(id);
    if (devices.has(key)) throw registryError(file, `device ${JSON.stringify(key)} is listed twice`);
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw registryError(file, `device ${JSON.stringify(key)}: its fields must be a map (site: ..., room: ...)`);
    const entry: Record<string, ReadingValue> = {};
    for (const [name, value] of Object.entries(fields)) {
      if (name === idField) continue;
      if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) entry[name] = value;
      else if (value !== null) throw registryError(file, `device ${JSON.stringify(key)}, field ${JSON.stringify(name)}: must be a string, number or bool`);
    }
    devices.set(key, entry);
    if (devices.size > MAX_DEVICES) throw registryError(file, `holds more than ${MAX_DEVICES} devices`);
  };
  if (Array.isArray(doc)) doc.forEach((item, i) => add((item as Record<string, unknown> | null)?.[idField], item, `entry ${i + 1}`));
  else if (doc !== null && typeof doc === 'object') for (const [id, fields] of Object.entries(doc)) add(id, fields, `device ${id}`);
  else throw registryError(file, 'must hold a map of device id → fields, or a list of entries with the id field');
  return devices;
}

function registryError(file: string, message: string): TidegateError {
  return new TidegateError('ERR_CONFIG_INVALID', `device registry ${file} ${message}`);
}
