import type { ModbusDeviceConfig, ModbusRegisterConfig } from './config.js';
import type { ModbusFunction } from './modbus-link.js';
import { registerCount } from './register-codec.js';

/** One read request on the wire and the configured values it carries. */
export interface ReadRequest {
  fn: ModbusFunction;
  address: number;
  count: number;
  values: { register: ModbusRegisterConfig; offset: number }[];
}

// Largest reads the protocol allows in one request (Modbus Application Protocol v1.1b3, 6.1-6.4):
// 2000 coils or discrete inputs, 125 registers.
const MAX_BITS = 2000;
const MAX_REGISTERS = 125;

/**
 * Merges a unit's registers into as few requests as possible: registers of one function at adjacent addresses
 * share a request (fewer turnarounds on a half-duplex bus); a gap starts a new one, since reading an address
 * the device does not map would make it answer with an exception.
 */
export function planRequests(device: Pick<ModbusDeviceConfig, 'registers'>): ReadRequest[] {
  const sorted = [...device.registers].sort((a, b) => a.function - b.function || a.address - b.address);
  const requests: ReadRequest[] = [];
  for (const register of sorted) {
    const size = registerCount(register);
    const last = requests.at(-1);
    const limit = register.function <= 2 ? MAX_BITS : MAX_REGISTERS;
    if (last && last.fn === register.function && last.address + last.count === register.address && last.count + size <= limit) {
      last.values.push({ register, offset: last.count });
      last.count += size;
    } else {
      requests.push({ fn: register.function, address: register.address, count: size, values: [{ register, offset: 0 }] });
    }
  }
  return requests;
}
