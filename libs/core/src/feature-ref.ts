/** A feature of a view: `view:feature` in text. */
export interface FeatureRef {
  featureView: string;
  feature: string;
}

/** Thrown for a malformed `view:feature` reference; the message says what was expected. */
export class FeatureRefError extends Error {
  override readonly name = 'FeatureRefError';
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`invalid feature reference '${ref}': ${reason}; expected 'view:feature', e.g. 'driver_hourly_stats:conv_rate'`);
  }
}

/** Splits `view:feature`. Throws FeatureRefError when either part is missing or there are several colons. */
export function parseFeatureRef(ref: string): FeatureRef {
  const parts = ref.split(':');
  if (parts.length !== 2) {
    throw new FeatureRefError(ref, parts.length === 1 ? 'no colon' : 'more than one colon');
  }
  const [featureView = '', feature = ''] = parts.map((p) => p.trim());
  if (featureView === '') throw new FeatureRefError(ref, 'the view name is empty');
  if (feature === '') throw new FeatureRefError(ref, 'the feature name is empty');
  return { featureView, feature };
}

/** Like parseFeatureRef, but returns undefined instead of throwing. */
export function tryParseFeatureRef(ref: string): FeatureRef | undefined {
  try {
    return parseFeatureRef(ref);
  } catch {
    return undefined;
  }
}

/** `{ featureView: 'v', feature: 'f' }` or `('v', 'f')` -> `v:f`. */
export function formatFeatureRef(ref: FeatureRef): string;
export function formatFeatureRef(featureView: string, feature: string): string;
export function formatFeatureRef(refOrView: FeatureRef | string, feature?: string): string {
  return typeof refOrView === 'string' ? `${refOrView}:${feature ?? ''}` : `${refOrView.featureView}:${refOrView.feature}`;
}
