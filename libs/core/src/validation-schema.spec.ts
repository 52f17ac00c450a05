import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1, tfmdV0 } from '@larder/proto';
import { driverStatsSet } from './test-fixtures';
import { validateRegistrySet } from './validate';

const K = registryV1.ObjectKind;
const F = tfmdV0.FeatureType;
const VIEW = 'driver_hourly_stats'; // conv_rate float, acc_rate double, avg_daily_trips int64

/** The issues of the driver-stats set once its view carries this TFDV schema. */
function issuesWith(schema: MessageInitShape<typeof tfmdV0.SchemaSchema>): { field: string; message: string }[] {
  const set = driverStatsSet();
  const view = set.featureViews.find((v) => v.name === VIEW) as registryV1.FeatureView;
  view.validation = create(registryV1.FeatureViewValidationSchema, { schema: create(tfmdV0.SchemaSchema, schema) });
  return validateRegistrySet(set).map((i) => {
    expect([i.kind, i.name]).toEqual([K.FEATURE_VIEW, VIEW]);
    return { field: i.field, message: i.message };
  });
}

describe("a feature view's TFDV schema", () => {
  it('accepts domains that fit: float on float and double, int on int64, by-name domains, types TFDV would infer', () => {
    expect(
      issuesWith({
        feature: [
          { name: 'conv_rate', type: F.FLOAT, domainInfo: { case: 'floatDomain', value: { min: 0, max: 1 } } },
          { name: 'acc_rate', domainInfo: { case: 'domain', value: 'rates' } },
          { name: 'avg_daily_trips', type: F.INT, domainInfo: { case: 'intDomain', value: { min: 0n, max: 1000n } } },
        ],
        floatDomain: [{ name: 'rates', min: 0, max: 1 }],
      }),
    ).toEqual([]);
  });

  it('refuses a feature the view does not have, naming the view, the schema feature and the features it has', () => {
    expect(issuesWith({ feature: [{ name: 'conv_rate' }, { name: 'conv_rat', type: F.FLOAT }] })).toEqual([
      {
        field: 'validation.schema.feature[1].name',
        message:
          "feature view 'driver_hourly_stats' has a validation schema naming feature 'conv_rat', which the view does not have; its features are conv_rate, acc_rate, avg_daily_trips",
      },
    ]);
  });

  it('refuses a domain that does not fit the value type, inline or by name', () => {
    expect(
      issuesWith({
        feature: [
          { name: 'conv_rate', domainInfo: { case: 'stringDomain', value: { value: ['a'] } } },
          { name: 'avg_daily_trips', domainInfo: { case: 'domain', value: 'rates' } },
          { name: 'acc_rate', domainInfo: { case: 'boolDomain', value: {} } },
        ],
        floatDomain: [{ name: 'rates', min: 0, max: 1 }],
      }),
    ).toEqual([
      {
        field: 'validation.schema.feature[0].string_domain',
        message:
          "feature view 'driver_hourly_stats' has a validation schema giving feature 'conv_rate' a string_domain, which " +
          'does not fit its value type float: string_domain describes string and bytes features',
      },
      {
        field: 'validation.schema.feature[1].domain',
        message:
          "feature view 'driver_hourly_stats' has a validation schema giving feature 'avg_daily_trips' a float_domain " +
          "(domain 'rates'), which does not fit its value type int64: float_domain describes float and double features",
      },
      {
        field: 'validation.schema.feature[2].bool_domain',
        message:
          "feature view 'driver_hourly_stats' has a validation schema giving feature 'acc_rate' a bool_domain, which does not fit its value type double: bool_domain describes bool features",
      },
    ]);
  });

  it('refuses a wrong TFDV type, an undefined named domain, min above max, a feature named twice', () => {
    expect(
      issuesWith({
        feature: [
          { name: 'conv_rate', type: F.BYTES },
          { name: 'acc_rate', domainInfo: { case: 'domain', value: 'nowhere' } },
          { name: 'avg_daily_trips', domainInfo: { case: 'intDomain', value: { min: 10n, max: 1n } } },
          { name: 'conv_rate' },
        ],
      }).map((i) => [i.field, i.message.replace("feature view 'driver_hourly_stats' has a validation schema ", '')]),
    ).toEqual([
      ['validation.schema.feature[0].type', "giving feature 'conv_rate' type BYTES, but the feature is float, which TFDV calls FLOAT"],
      [
        'validation.schema.feature[1].domain',
        "giving feature 'acc_rate' domain 'nowhere', which the schema does not define; add a string_domain, int_domain or float_domain named 'nowhere' at its top level",
      ],
      ['validation.schema.feature[2].int_domain', "giving feature 'avg_daily_trips' an int_domain with min 10 above max 1"],
      ['validation.schema.feature[3].name', "naming feature 'conv_rate' more than once"],
    ]);
  });
});
