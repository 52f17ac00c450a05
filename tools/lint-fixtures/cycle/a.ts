// Half of a deliberate import cycle, imported without an extension as our code does:
// tools/lint/lint-rules.spec.ts expects import-x/no-cycle to report it.
import { b } from './b';

export const a = (): string => `a${b()}`;
