// download/: the resumable artifact download the updater's `download` step runs (design §5) — the partial
// file's bitmap, in-order hash and verification (partial.ts), chunks over MQTT unicast and multicast
// (via-mqtt.ts), HTTP range requests as the alternative (via-http.ts). Platform-neutral like the core:
// it reaches storage and the network only through the core's ports.
export { acceptChunk, countBits, hasBit, sha256With, syncPartial, verifyAndCommit, type ActiveDownload, type ArtifactRef, type DownloadControl, type IncrementalSha256 } from './partial.js';
export { listenMulticast, viaMqtt, type MqttPathOptions } from './via-mqtt.js';
export { viaHttp, type HttpPathOptions } from './via-http.js';
