import { typesV1 } from '@larder/proto';

/** The Value oneof case that carries each value type. */
export const CASE_OF_TYPE = typesV1.VALUE_CASE_OF_TYPE;
