// The updater room (design §5): reconcile with the desired state, install as ordered steps, roll back,
// judge probations, collect garbage, and take the slots up again on start. It may import the core's
// context, serving, downloader and the pure update plan; nothing here imports a platform.
export { createUpdater, type Updater, type UpdaterOptions } from './updater.js';
export { restoreSlots } from './restore.js';
export { INSTALL_STEPS } from './install.js';
