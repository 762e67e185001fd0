import type { DetectorConfig } from '../schema.js';
import type { Detector } from './detector.js';
import { ewmaDetector } from './ewma.js';
import { flatlineDetector } from './flatline.js';
import { madDetector } from './mad.js';
import { missingDetector } from './missing.js';
import { rateDetector } from './rate.js';
import { seasonalDetector } from './seasonal.js';
import { thresholdDetector } from './threshold.js';

export type { Detector, Evaluation } from './detector.js';

/** Builds the detector a rule's `detector:` entry describes. */
export function createDetector(config: DetectorConfig): Detector {
  switch (config.kind) {
    case 'threshold':
      return thresholdDetector(config) as Detector;
    case 'rate':
      return rateDetector(config) as Detector;
    case 'flatline':
      return flatlineDetector(config) as Detector;
    case 'missing':
      return missingDetector(config) as Detector;
    case 'ewma':
      return ewmaDetector(config) as Detector;
    case 'mad':
      return madDetector(config) as Detector;
    case 'seasonal':
      return seasonalDetector(config) as Detector;
  }
}
