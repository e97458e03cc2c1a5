// @edgefleet/protocol: the wire contract shared by hub, agent and browser runtime. Pure: no node:* imports.
export * from './errors.js';
export * from './topics.js';
export * from './limits.js';
export * from './schemas.js';
