//! [`HeartbeatLayer`], laid out as tower-http's middleware are: the
//! [`layer`], the [`service`], its [`future`], and the hooks that pick a
//! request's check and [`classify`] its result.

mod classify;
mod future;
mod layer;
mod pick;
mod service;

#[cfg(feature = "http")]
pub use classify::HttpStatus;
pub use classify::{Classify, DefaultClassify};
pub use future::ResponseFuture;
pub use layer::HeartbeatLayer;
pub use pick::PickCheck;
pub use service::Heartbeat;
