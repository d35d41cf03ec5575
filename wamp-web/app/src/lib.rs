//! The wamp-web example page (`demo`) and the browser test suite (`suite`), as one
//! WebAssembly module. `scripts/web-env.sh` builds it with `wasm-bindgen --target web`
//! into `target/web/`, beside `www/` (the pages that load it). Empty on other targets.

#![forbid(unsafe_code)]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod demo;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod page;
#[cfg(all(target_arch = "wasm32", target_os = "unknown", feature = "suite"))]
pub mod suite;
