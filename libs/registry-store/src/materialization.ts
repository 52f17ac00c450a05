import { create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import { invalidArgument } from './errors';

const S = registryV1.MaterializationStatus;

export function checkMaterializationUpdate(req: registryV1.UpdateMaterializationStateRequest): void {
  if (req.project === '') throw invalidArgument('project: required');
  if (req.featureView === '') throw invalidArgument('feature_view: required');
  if (req.jobId === '') throw invalidArgument('job_id: required');
  if (req.status === S.UNSPECIFIED || S[req.status] === undefined) throw invalidArgument('status: one of RUNNING, SUCCEEDED, FAILED, CANCELLED is required');
  if (req.status === S.SUCCEEDED && req.watermark === undefined) throw invalidArgument('watermark: required when status is SUCCEEDED');
}

/**
 * The one record kept per view: the last job's report replaces the previous
 * one, and the watermark becomes the later of the stored one and a
 * SUCCEEDED report's, so a late report from an older job never moves it back.
 */
export function mergeMaterializationState(
  previous: registryV1.MaterializationState | undefined,
  req: registryV1.UpdateMaterializationStateRequest,
  now: Timestamp,
): registryV1.MaterializationState {
  let watermark = previous?.watermark;
  if (req.status === S.SUCCEEDED && req.watermark !== undefined && (watermark === undefined || compareTimestamps(req.watermark, watermark) > 0)) {
    watermark = req.watermark;
  }
  return create(registryV1.MaterializationStateSchema, {
    featureView: req.featureView,
    ...(watermark !== undefined && { watermark }),
    lastJobId: req.jobId,
    lastJobStatus: req.status,
    lastError: req.status === S.FAILED ? req.error : '',
    ...(req.intervalStart !== undefined && { lastIntervalStart: req.intervalStart }),
    ...(req.intervalEnd !== undefined && { lastIntervalEnd: req.intervalEnd }),
    updatedTime: now,
  });
}

export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos - b.nanos;
}
