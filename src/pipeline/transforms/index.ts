// The transforms shipped with tidegate: importing this module registers the factory of each of them
// (their config schemas: schemas.ts).
import './drop-fields.js';
import '../../analytics/windows/register.js';
import '../../analytics/alarms/register.js';
import '../../analytics/rules/register.js';
