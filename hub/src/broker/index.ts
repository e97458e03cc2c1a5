// broker/: the hub's MQTT (design §4, §8) — the embedded aedes broker with the §4 access policy, packet
// and pre-auth limits, or the hub as a privileged client of an external broker (`--broker`), Mosquitto's
// password file, the artifact multicast registry, and the Bus both present to the rest of the hub. With an
// MQTT 5 broker several hub replicas share the device → hub topics (replica.ts: ids, shared subscriptions).
// May import: protocol, store/ types. Everything that publishes or subscribes goes through its Bus.
export { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';
export { embeddedBrokerGauges, startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded.js';
export { connectBrokerClient, defaultSessionExpiry, KEEPALIVE_SECONDS, REPLICA_SESSION_EXPIRY_SECONDS, SESSION_EXPIRY_SECONDS, type BrokerClientOptions } from './external.js';
export { hubClientId, replicaSubscription, resolveReplicaId, SHARE_GROUP, type ReplicaSubscription } from './replica.js';
export { createMosquittoSync, mosquittoSyncFor, mosquittoPasswordHash, otherHubUsers, reloadMosquitto, writeMosquittoPasswordFile, type MosquittoSyncOptions } from './mosquitto.js';
export { createMulticastRegistry, type MulticastRegistry, type MulticastSubscribers } from './multicast.js';
export { createPacketScanner } from './packet-limit.js';
export { agentBrokerUrls, dialHost, parseHostPort } from './address.js';
