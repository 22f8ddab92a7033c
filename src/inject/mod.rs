//! Unpacking the seed payload: chunks → SHA-256 → gunzip → untar → OCI layout check.
pub mod chunks;
pub mod gzip;
