import type { ValueTypeName } from '@larder/core';
import type { typesV1 } from '@larder/proto';

// The names themselves live in @larder/core, one table for definitions, the
// CLI and the services' messages.
export { VALUE_TYPE_NAMES, VALUE_TYPE_SPELLINGS, lookupValueType, valueTypeName } from '@larder/core';
export type { ValueTypeName } from '@larder/core';

/** A value type by name, or the enum value itself. */
export type ValueTypeInput = ValueTypeName | typesV1.ValueType;
