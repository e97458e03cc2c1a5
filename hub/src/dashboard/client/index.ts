// The dashboard's browser client (design §7), bundled by hub/scripts/build-dashboard.mjs into the one
// script the hub serves at /dashboard/app.js. Pages: sign-in, overview, devices, device, models, model
// versions, rollouts, rollout.

import { boot } from './shell.js';

document.addEventListener('DOMContentLoaded', boot);
