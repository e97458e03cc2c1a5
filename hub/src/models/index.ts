// Model push preparation (design §7): the public face of hub/src/models.
export { prepareModelPush, SELF_TEST_TOLERANCE } from './push.js';
export type { PushOptions, PreparedModel } from './push.js';
