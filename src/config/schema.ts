import { z } from 'zod';
import { gatewayIdSchema, logSchema, shutdownSchema } from '../core/config.js';
import { pipelineSchema, transformsSchema } from '../pipeline/config.js';
import { alarmsSchema } from '../analytics/alarms/schema.js';
import { refineAlarmNamesAcrossRules, rulesSchema } from '../analytics/rules/config.js';
import { bufferSchema, dataDirSchema } from '../buffer/config.js';
import { firehoseSchema } from '../sinks/firehose/config.js';
import { kinesisSchema } from '../sinks/kinesis/config.js';
import { routesSchema } from '../sinks/route-config.js';
import { modbusBusesSchema } from '../sources/modbus/config.js';
import { mqttSchema } from '../sources/mqtt-broker/config.js';
import { siteBrokersSchema } from '../sources/mqtt-client/config.js';
import { serialPortsSchema } from '../sources/serial/config.js';
import { statusSchema } from '../telemetry/config.js';

/**
 * tidegate's configuration: the top-level object only. Each component declares its own slice, with a
 * description on every key, in a `config.ts` of its own folder; types, defaults, validation, the JSON Schema
 * (config/tidegate.schema.json) and docs/reference/configuration.md all come from those slices.
 * Objects are strict (unknown keys are errors, as a misspelt key silently ignored is a classic outage).
 */
export const configSchema = z
  .object({
    gatewayId: gatewayIdSchema,
    dataDir: dataDirSchema,
    log: logSchema,
    mqtt: mqttSchema.default(() => mqttSchema.parse({})),
    buffer: bufferSchema.default(() => bufferSchema.parse({})),
    kinesis: kinesisSchema.default(() => kinesisSchema.parse({})),
    routes: routesSchema,
    transforms: transformsSchema,
    rules: rulesSchema,
    pipeline: pipelineSchema.default(() => pipelineSchema.parse({})),
    alarms: alarmsSchema.default(() => alarmsSchema.parse({})),
    firehose: firehoseSchema.default(() => firehoseSchema.parse({})),
    status: statusSchema,
    shutdown: shutdownSchema,
    siteBrokers: siteBrokersSchema,
    serial: serialPortsSchema,
    modbus: modbusBusesSchema,
  })
  .strict()
  .superRefine(refineAlarmNamesAcrossRules);

export type Config = z.infer<typeof configSchema>;

// The names importers have always used; the definitions live with their components.
export { listenerSchema } from '../sources/mqtt-broker/config.js';
export type { ListenerConfig, ListenerTlsConfig, MqttAuthConfig, MqttLimitsConfig } from '../sources/mqtt-broker/config.js';
export type { KinesisConfig } from '../sinks/kinesis/config.js';
export type { AwsCredentialsConfig, IotCredentialsConfig } from '../aws/config.js';
export type { SiteBrokerConfig } from '../sources/mqtt-client/config.js';
export type { SerialPortConfig } from '../sources/serial/config.js';
export type { ModbusBusConfig, ModbusDeviceConfig, ModbusRegisterConfig } from '../sources/modbus/config.js';
