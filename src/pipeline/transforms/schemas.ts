// The config schemas of the transforms shipped with tidegate: importing this module registers each of them
// (their factories: index.ts).
import './drop-fields-schema.js';
import '../../analytics/windows/schema.js';
import '../../analytics/alarms/schema.js';
import '../../analytics/rules/schemas.js';
