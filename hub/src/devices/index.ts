// devices/: the device registry (credentials, tags, agent configs, removal; design §4, §7) and signed
// commands to one device (design §3, §4), one-time enrolment links for browser devices.
// May import: protocol, context, store/ rows, broker/ (Mosquitto password hashes).
export { createDeviceRegistry, type DeviceRegistry, type DeviceRegistryHooks, type DeviceView } from './registry.js';
export { ENROLMENT_TTL, type Enrolled, type EnrolmentLink } from './enrolment.js';
export { createCommandSender, sendTelemetryConfirm, type CommandSender } from './commands.js';
