// trust/: what the hub signs and how it proves it (design §3, §7) — the root/release/director keys and
// the root-signed keyring (files on SQLite; sealed rows in the database on PostgreSQL, for replicas), native
// Ed25519 envelope signing, and the audit chain's verification.
// May import: protocol, store/. Imported by the rooms that sign (models/, desired/, devices/) and http/.
export { buildKeyring, loadOrCreateKeys, type HubKeys } from './keys.js';
export { createSigner, type Signer } from './signer.js';
export { verifyAuditChain, type AuditBreak, type AuditVerification } from './audit.js';
export { openHubSecrets, type HubKeyOptions, type HubSecrets } from './hub-secrets.js';
export { openDbKeys, rotateDbKey, type DbKeys, type RotatableRole } from './db-keys.js';
export { initDbKeys, rotateKeyInDb } from './db-keys-admin.js';
export { keyEncryptionKeyText, parseKeyEncryptionKey, seal, unseal, type KeyEncryptionKey, type Sealed } from './sealed.js';
