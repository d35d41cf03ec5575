//! Errors of the router, by blame: [`ConfigError`] for a configuration that cannot work,
//! [`RouterUsageError`] for a command the runtime should not have given. A client's
//! misbehaviour is never an `Err`: the router answers it on the wire (ERROR or ABORT)
//! and reports it as a [`RouterEvent`](super::RouterEvent).

use super::event::ConnectionId;

/// The configuration cannot be used; [`Router::new`](super::Router::new) refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two realms have the same name.
    #[error("realm {0} is configured twice")]
    DuplicateRealm(String),
    /// Two transport authentications have the same name.
    #[error("transport auth {0:?} is configured twice")]
    DuplicateTransportAuth(String),
    /// Two roles of a realm have the same name.
    #[error("realm {realm}: role {role:?} is configured twice")]
    DuplicateRole {
        /// The realm.
        realm: String,
        /// The role.
        role: String,
    },
    /// A principal (or anonymous access) names a role the realm does not define.
    #[error("{scope}: {what} uses role {role:?}, which the realm does not define")]
    UnknownRole {
        /// Where: `realm NAME`.
        scope: String,
        /// Which principal.
        what: String,
        /// The missing role.
        role: String,
    },
    /// Two principals of one method have the same authid.
    #[error("{scope}: {method} principal {authid:?} is configured twice")]
    DuplicatePrincipal {
        /// Where: `realm NAME` or `transport NAME`.
        scope: String,
        /// The method.
        method: &'static str,
        /// The authid.
        authid: String,
    },
    /// A role has both permissions and an authorizer.
    #[error("realm {realm}: role {role:?} has both permissions and an authorizer; give one")]
    PermissionsAndAuthorizer {
        /// The realm.
        realm: String,
        /// The role.
        role: String,
    },
    /// A method has both static principals and a dynamic authenticator.
    #[error("{scope}: {method} has both static principals and an authenticator; give one")]
    StaticAndDynamic {
        /// Where: `realm NAME` or `transport NAME`.
        scope: String,
        /// The method.
        method: &'static str,
    },
    /// A principal's secret, key or credential is unusable.
    #[error("{scope}: {method} principal {authid:?}: {reason}")]
    BadCredential {
        /// Where: `realm NAME` or `transport NAME`.
        scope: String,
        /// The method.
        method: &'static str,
        /// The authid.
        authid: String,
        /// What is wrong.
        reason: String,
    },
}

/// A command the router cannot carry out; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterUsageError {
    /// The connection is not open (never opened, or already closed).
    #[error("{0} is not open")]
    UnknownConnection(ConnectionId),
    /// No transport authentication has this name.
    #[error("no transport auth {0:?} is configured")]
    UnknownTransportAuth(String),
    /// The connection has no joined session to close.
    #[error("{0} has no joined session")]
    NotEstablished(ConnectionId),
}
