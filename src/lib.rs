//! # zarf-injector
//!
//! The smallest correct way to seed a container registry into an air-gapped Kubernetes cluster.
//!
//! A freshly built cluster has no registry, and the only way in is the Kubernetes API, whose
//! ConfigMaps hold about 1 MiB each. Zarf therefore ships a static injector binary in one
//! ConfigMap and the seed image (an OCI image layout, as a gzip'd tar) split into ~768 KiB
//! ConfigMap chunks. This crate is that injector:
//!
//! 1. [`inject`] reassembles the chunks in order, verifies their SHA-256, gunzips and untars them
//!    into the seed directory in one streaming pass, and checks that the result is an OCI layout;
//! 2. [`server`] serves the layout as a pull-only registry over plain HTTP, so that the node's
//!    container runtime can pull the real registry image from `127.0.0.1`.
//!
//! The host side, `pack` (feature `pack`, on by default), makes those chunks from images and
//! writes the Kubernetes objects that run the injector; the injector never reaches it.
//!
//! Non-goals: push, authentication, TLS. The size budget of the static musl binary is far under
//! 512 KB; every dependency is measured in `docs/SIZE.md`.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod address;
pub mod cli;
pub mod connection;
pub mod connections;
pub mod digest;
pub mod error;
pub mod heap;
pub mod http;
pub mod inject;
pub mod json;
pub mod layout;
pub mod line;
pub mod log;
pub mod memcpy;
#[cfg(feature = "pack")]
pub mod pack;
pub mod range;
pub mod reference;
pub mod registry;
pub mod repository;
pub mod route;
pub mod run;
pub mod server;
pub mod sha512;
pub mod sys;
pub mod table;
#[cfg(test)]
mod test_rng;
