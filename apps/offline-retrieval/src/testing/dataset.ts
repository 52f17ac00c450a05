// The retrieval test data of @larder/service-testing, under the name this app's specs use.
import { retrievalHarness as h } from '@larder/service-testing';

export type Table = h.Table;
export type OracleView = h.OracleView;
export type TestData = h.TestData;
export type SourceKind = h.SourceKind;
export const { T0, MIN, makeData, featureRepo, oracleViews } = h;
