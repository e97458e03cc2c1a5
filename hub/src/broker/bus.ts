// The hub's view of MQTT: publish and subscribe, whether the broker is embedded (in-process) or external.

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface Bus {
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<void>;
  /** Subscribe with full rights (the hub's own subscriptions). */
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  /** Disconnect a client at once (device removed). Best effort for external brokers. */
  disconnect(clientId: string): void;
  close(): Promise<void>;
}
