// trust/: what the hub signs and how it proves it (design §3, §7) — the root/release/director keys and
// the root-signed keyring, native Ed25519 envelope signing, and the audit chain's verification.
// May import: protocol, store/. Imported by the rooms that sign (models/, desired/, devices/) and http/.
export { buildKeyring, loadOrCreateKeys, type HubKeys } from './keys.js';
export { createSigner, type Signer } from './signer.js';
export { verifyAuditChain, type AuditBreak, type AuditVerification } from './audit.js';
