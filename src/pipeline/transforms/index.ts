// The transforms shipped with tidegate: importing this module registers each of them.
import './drop-fields.js';
import '../../analytics/windows/register.js';
import '../../analytics/alarms/register.js';
import '../../analytics/rules/register.js';
