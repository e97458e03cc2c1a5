// broker/: the hub's MQTT (design §4, §8) — the embedded aedes broker with the §4 access policy, packet
// and pre-auth limits, or the hub as a privileged client of an external broker (`--broker`), Mosquitto's
// password file, the artifact multicast registry, and the Bus both present to the rest of the hub.
// May import: protocol, store/ types. Everything that publishes or subscribes goes through its Bus.
export { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';
export { embeddedBrokerGauges, startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded.js';
export { connectBrokerClient, HUB_CLIENT_ID, type BrokerClientOptions } from './external.js';
export { createMosquittoSync, mosquittoPasswordHash, reloadMosquitto, writeMosquittoPasswordFile, type MosquittoSyncOptions } from './mosquitto.js';
export { createMulticastRegistry, type MulticastRegistry, type MulticastSubscribers } from './multicast.js';
export { createPacketScanner } from './packet-limit.js';
export { agentBrokerUrls, dialHost, parseHostPort } from './address.js';
