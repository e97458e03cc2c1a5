// pages/: one render function per dashboard page (design §7), each reading the API through ../api.ts and
// drawing with ../dom.ts and ../charts.ts; shell.ts routes to them by the URL hash.
export { renderSignIn } from './sign-in.js';
export { pageOverview } from './overview.js';
export { pageDevices } from './devices.js';
export { pageDevice } from './device.js';
export { pageModels } from './models.js';
export { pageModel } from './model.js';
export { pageRollouts } from './rollouts.js';
export { pageRollout } from './rollout.js';
export type { Page } from './page.js';
