// device-page/: the browser device page (issue 12, built into web-runtime/dist/device/ by `npm run build`)
// served by the hub at /device with no CDN: index.html and sw.js revalidated (no-cache + ETag), the
// content-hashed files under /device/assets/ immutable, compressed once and kept in memory, wasm as
// application/wasm, a CSP that allows wasm and the MQTT WebSocket, COOP/COEP only when asked.
// Imports: hono's types, node:*, protocol. No auth: the page holds no secret (the device token is typed in).

export { DEFAULT_DEVICE_PAGE_DIR, mountDevicePage, type DevicePageOptions } from './serve.js';
