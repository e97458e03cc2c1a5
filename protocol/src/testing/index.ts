// @edgefleet/protocol/testing: helpers for tests, benchmarks and simulators, so none reaches into another
// package's sources. Pure like the rest of protocol; nothing in a package's src imports it.
export { createNormal, createRng } from './random.js';
