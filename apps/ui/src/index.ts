// The UI app's public surface: its production build, its server and the server's
// configuration schema, for npm start, apps/e2e and the UI benchmark.
export { buildUi } from './build';
export { startUiServer, uiAuthIssues } from './server/ui-server';
export type { UiServer } from './server/ui-server';
export { uiConfigSchema } from './server/config';
export type { UiConfig } from './server/config';
