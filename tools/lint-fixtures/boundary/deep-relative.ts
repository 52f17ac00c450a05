// Linted as apps/materialization/src/scripts/stages.ts by tools/lint's spec: a relative
// path four levels up into another project's source must fail, as any depth must.
import { viewCodec } from '../../../../libs/online-store/src/packed-codec';

export const codec = viewCodec;
