// @edgefleet/agent/mqtt: the agent's MQTT transport on mqtt.js, shared by the Node agent and the browser
// one (ws:// and wss:// in a page or worker). Imports only mqtt and the core's port types.
export { createMqttTransport, reconnectDelay, type MqttTransport, type MqttTransportOptions } from './transport.js';
