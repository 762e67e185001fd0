// The schemas of `filter`, `compute`, `deadband` and `enrich`, in `transforms:` and in rule stages alike.
import './filter-schema.js';
import './compute-schema.js';
import './deadband-schema.js';
import './enrich-schema.js';
