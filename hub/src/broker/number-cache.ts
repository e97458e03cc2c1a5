// Imported first by the embedded broker, before aedes writes a packet. mqtt-packet (aedes's writer) otherwise
// pre-builds a 2-byte Buffer for each of the 65,536 16-bit numbers on its first write — 65,536 Buffer objects,
// ~6 MB of heap live for the process, seen in a heap snapshot of the hub with idle devices connected
// (bench/README "hub.rss_per_device_kb") — to save one 2-byte allocation per message id written. Same bytes
// on the wire; the agent does the same through mqtt.js's `writeCache: false`. The setting is process-wide
// in the copy of mqtt-packet aedes resolves, which is why it is looked up through aedes.
import { createRequire } from 'node:module';

const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
(fromAedes('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } }).writeToStream.cacheNumbers = false;
