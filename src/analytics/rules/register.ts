// `filter`, `compute`, `deadband` and `enrich`, in `transforms:` and in rule stages alike.
import './filter-stage.js';
import './compute-stage.js';
import './deadband-stage.js';
import './enrich-stage.js';
