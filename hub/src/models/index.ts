// Model push preparation (design §7): the public face of hub/src/models.
export { prepareModelPush, SELF_TEST_TOLERANCE } from './push.js';
export type { PreparedModel } from './push.js';
export { PushOptions, parsePushOptions, pushOptionsFromFields, type CheckedPushOptions } from './push-options.js';
export { OipRequest } from './sample.js';
