import { closest } from './suggest';

/** What kind of problem a FeatureResolutionError is; services map it to a status (unknown-service -> NOT_FOUND, the rest -> INVALID_ARGUMENT). */
export type FeatureResolutionProblem = 'bad-ref' | 'unknown-view' | 'unknown-feature' | 'unknown-service' | 'collision' | 'empty' | 'invalid-definition';

/**
 * A feature request that cannot be resolved against the registry. `field` names the
 * request field at fault (`features[2] 'v:f'`, `feature_service`, `feature service 's'
 * projections[1]`); the message says what is wrong and what exists.
 */
export class FeatureResolutionError extends Error {
  override readonly name = 'FeatureResolutionError';
  constructor(
    readonly problem: FeatureResolutionProblem,
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** ` (did you mean 'x'?)` or ''. */
export function suggestName(name: string, candidates: readonly string[]): string {
  const guess = closest(name, candidates);
  return guess === undefined ? '' : ` (did you mean '${guess}'?)`;
}
