// models/: model push (design §3, §7). One zod schema of the push options (push-options.ts); the model
// loaded in onnxruntime, self-tested, validated and described for its manifest (push.ts); the registry
// that stores, releases and signs versions (registry.ts). May import @edgefleet/protocol, context.ts
// and (types only) store/ and artifacts/; never http/.
export { prepareModelPush, SELF_TEST_TOLERANCE } from './push.js';
export type { PreparedModel } from './push.js';
export { PushOptions, parsePushOptions, pushOptionsFromFields, type CheckedPushOptions } from './push-options.js';
