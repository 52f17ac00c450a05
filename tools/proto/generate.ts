// `npm run proto`: regenerates libs/proto/src/gen from proto/ (see buf.gen.yaml).
import { buf } from './buf';

try {
  buf(['generate']);
} catch {
  process.exit(1);
}
