// Every MQTT topic of design §4 is built and parsed here, and nowhere else.

export const TOPIC_PREFIX = 'ef/v1';

/** Device ids: lowercase, digits and dashes, 1–63 characters, starting with a letter or digit. */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

function deviceTopic(id: string, leaf: string): string {
  if (!isDeviceId(id)) throw new Error(`invalid device id: ${JSON.stringify(id)}`);
  return `${TOPIC_PREFIX}/devices/${id}/${leaf}`;
}

export const topics = {
  keyring: (): string => `${TOPIC_PREFIX}/keyring`,
  desired: (id: string): string => deviceTopic(id, 'desired'),
  command: (id: string): string => deviceTopic(id, 'command'),
  artifactGet: (id: string): string => deviceTopic(id, 'artifact/get'),
  artifactData: (id: string): string => deviceTopic(id, 'artifact/data'),
  reported: (id: string): string => deviceTopic(id, 'reported'),
  status: (id: string): string => deviceTopic(id, 'status'),
  telemetry: (id: string): string => deviceTopic(id, 'telemetry'),
  events: (id: string): string => deviceTopic(id, 'events'),
  artifactMulticast: (sha256: string): string => {
    if (!SHA256_PATTERN.test(sha256)) throw new Error('invalid sha256');
    return `${TOPIC_PREFIX}/artifacts/${sha256}/data`;
  },
} as const;

/** Subscriptions the hub makes to hear every device (single-level wildcards only). */
export const hubSubscriptions = {
  artifactGet: `${TOPIC_PREFIX}/devices/+/artifact/get`,
  reported: `${TOPIC_PREFIX}/devices/+/reported`,
  status: `${TOPIC_PREFIX}/devices/+/status`,
  telemetry: `${TOPIC_PREFIX}/devices/+/telemetry`,
  events: `${TOPIC_PREFIX}/devices/+/events`,
  /** MQTT 5 shared subscription for hub replicas sharing telemetry ingest (design §8). */
  sharedTelemetry: `$share/edgefleet/${TOPIC_PREFIX}/devices/+/telemetry`,
} as const;

export type DeviceTopicKind =
  | 'desired'
  | 'command'
  | 'artifact-get'
  | 'artifact-data'
  | 'reported'
  | 'status'
  | 'telemetry'
  | 'events';

export type ParsedTopic =
  | { kind: 'keyring' }
  | { kind: DeviceTopicKind; deviceId: string }
  | { kind: 'artifact-multicast'; sha256: string };

/** The topic levels after a device's id, and their kinds (a Map: no inherited keys). */
const LEAF_KINDS = new Map<string, DeviceTopicKind>(Object.entries({
  desired: 'desired',
  command: 'command',
  'artifact/get': 'artifact-get',
  'artifact/data': 'artifact-data',
  reported: 'reported',
  status: 'status',
  telemetry: 'telemetry',
  events: 'events',
}));

const DEVICES_PREFIX = `${TOPIC_PREFIX}/devices/`;

/** Parse a concrete topic name (no wildcards); null for anything that is not one of ours. */
export function parseTopic(topic: string): ParsedTopic | null {
  if (topic === `${TOPIC_PREFIX}/keyring`) return { kind: 'keyring' };
  // the hub parses every device message's topic: the device topics without splitting the whole name
  if (topic.startsWith(DEVICES_PREFIX)) {
    const slash = topic.indexOf('/', DEVICES_PREFIX.length);
    if (slash < 0) return null;
    const deviceId = topic.slice(DEVICES_PREFIX.length, slash);
    const kind = LEAF_KINDS.get(topic.slice(slash + 1)); // one level, or two (artifact/get, artifact/data)
    return kind && isDeviceId(deviceId) ? { kind, deviceId } : null;
  }
  const parts = topic.split('/');
  if (parts[0] !== 'ef' || parts[1] !== 'v1') return null;
  if (parts[2] === 'artifacts' && parts.length === 5 && parts[4] === 'data') {
    const sha256 = parts[3] ?? '';
    return SHA256_PATTERN.test(sha256) ? { kind: 'artifact-multicast', sha256 } : null;
  }
  return null;
}

/** What a device may subscribe to (design §4): the keyring and its own hub → device topics. */
export function deviceMaySubscribe(deviceId: string, topicFilter: string): boolean {
  if (topicFilter.includes('+') || topicFilter.includes('#')) return false;
  const parsed = parseTopic(topicFilter);
  if (!parsed) return false;
  if (parsed.kind === 'keyring') return true;
  if (parsed.kind === 'artifact-multicast') return false; // decided per desired state by the hub
  return (
    parsed.deviceId === deviceId &&
    (parsed.kind === 'desired' || parsed.kind === 'command' || parsed.kind === 'artifact-data')
  );
}

/** What a device may publish to (design §4): its own device → hub topics. */
export function deviceMayPublish(deviceId: string, topic: string): boolean {
  const parsed = parseTopic(topic);
  if (!parsed || parsed.kind === 'keyring' || parsed.kind === 'artifact-multicast') return false;
  return (
    parsed.deviceId === deviceId &&
    (parsed.kind === 'artifact-get' ||
      parsed.kind === 'reported' ||
      parsed.kind === 'status' ||
      parsed.kind === 'telemetry' ||
      parsed.kind === 'events')
  );
}
