//! A Crossbar.io node configuration (`config.json`, version 2) read as a [`Plan`]: the
//! router workers' realms, roles and transports, each transport with its own
//! authentication, as Crossbar.io would serve them.
//!
//! Every key is accounted for. One we serve means what it means in Crossbar.io. One we
//! do not serve is named with its path: a warning when leaving it out changes nothing
//! about who may do what (a guest worker, WebSocket compression, a static web path), an
//! error when it would (a Python function authenticator, payload validation, a
//! transport we cannot open as configured).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use wamp_tokio::wamp_router::{
    Allow, AnonymousAuth, AuthConfig, Authenticator, CraPrincipal, CraSalt, CryptosignPrincipal,
    Disclose, Permission, PermissionMatch, RealmConfig, RoleConfig, ScramCredential, ScramKdf,
    ScramPrincipal, TicketPrincipal, TlsPrincipal,
};
use wamp_tokio::wamp_runtime::wamp_proto::Uri;
use wamp_tokio::{
    BindAddress, HttpBridge, ListenTransport, ListenerConfig, SerializerKind, ServerTls, WebService,
};

use super::plan::Plan;

/// Whether `text` looks like a Crossbar.io node configuration (a JSON object) rather
/// than our TOML.
pub fn looks_like_crossbar(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Reads a Crossbar.io configuration; relative file names (TLS keys) are resolved
/// against `dir`, the configuration's folder, as Crossbar.io resolves them against its
/// node directory. `Err` lists every problem found, one per line.
pub fn read(text: &str, dir: &Path) -> Result<Plan, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut node = Node {
        dir: dir.to_owned(),
        plan: Plan::default(),
        errors: Vec::new(),
        next_auth: 0,
    };
    node.root(&root);
    if node.errors.is_empty() {
        Ok(node.plan)
    } else {
        Err(node.errors.join("\n"))
    }
}

/// The configuration being read: what it maps to so far, and what is wrong with it.
struct Node {
    dir: PathBuf,
    plan: Plan,
    errors: Vec<String>,
    next_auth: usize,
}

/// How a key we do not serve is treated.
enum Unserved {
    /// Left out with a warning: it does not change who may do what.
    Ignored(&'static str),
    /// Refused: leaving it out would.
    Refused(&'static str),
}

use Unserved::{Ignored, Refused};

impl Node {
    fn warn(&mut self, path: &str, why: impl std::fmt::Display) {
        self.plan.warnings.push(format!("{path}: {why}"));
    }

    fn error(&mut self, path: &str, why: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {why}"));
    }

    /// The object at `path`, or an error.
    fn object<'a>(&mut self, path: &str, value: &'a Value) -> Option<&'a Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.error(path, format!("must be an object, not {value}"));
        }
        object
    }

    /// Checks an object's keys: those in `served` are the caller's business, those in
    /// `unserved` are warned about or refused, anything else is unknown (an error, as
    /// in Crossbar.io).
    fn keys(
        &mut self,
        path: &str,
        object: &Map<String, Value>,
        served: &[&str],
        unserved: &[(&str, Unserved)],
    ) {
        for key in object.keys() {
            if served.contains(&key.as_str()) {
                continue;
            }
            let at = format!("{path}.{key}");
            match unserved.iter().find(|(k, _)| k == key) {
                Some((_, Ignored(why))) => self.warn(&at, format!("ignored: {why}")),
                Some((_, Refused(why))) => self.error(&at, format!("not supported: {why}")),
                None => self.error(&at, "unknown key"),
            }
        }
    }

    fn string(&mut self, path: &str, value: Option<&Value>) -> Option<String> {
        match value {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(path, format!("must be a string, not {other}"));
                None
            }
            None => None,
        }
    }

    fn required_string(&mut self, path: &str, value: Option<&Value>) -> Option<String> {
        if value.is_none() {
            self.error(path, "is required");
        }
        self.string(path, value)
    }

    /// A secret, possibly `${VAR}`: from the environment, as Crossbar.io reads it.
    fn secret(&mut self, path: &str, value: Option<&Value>) -> Option<String> {
        let text = self.required_string(path, value)?;
        match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
            Some(var) => match std::env::var(var) {
                Ok(value) => Some(value),
                Err(_) => {
                    self.error(path, format!("environment variable {var} is not set"));
                    None
                }
            },
            None => Some(text),
        }
    }

    fn bool(&mut self, path: &str, value: Option<&Value>) -> Option<bool> {
        match value {
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(path, format!("must be true or false, not {other}"));
                None
            }
            None => None,
        }
    }

    fn uint(&mut self, path: &str, value: Option<&Value>) -> Option<u64> {
        match value {
            Some(v) => {
                let n = v.as_u64();
                if n.is_none() {
                    self.error(path, format!("must be a whole number, not {v}"));
                }
                n
            }
            None => None,
        }
    }

    fn list<'a>(&mut self, path: &str, value: Option<&'a Value>) -> &'a [Value] {
        match value {
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.error(path, format!("must be a list, not {other}"));
                &[]
            }
            None => &[],
        }
    }

    // ---- the node ------------------------------------------------------------------

    fn root(&mut self, root: &Value) {
        let Some(root) = self.object("config", root) else {
            return;
        };
        self.keys(
            "config",
            root,
            &["version", "workers", "$schema"],
            &[(
                "controller",
                Ignored("the node controller is Crossbar.io's own"),
            )],
        );
        match root.get("version").and_then(Value::as_u64) {
            Some(2) => {}
            _ => self.error("config.version", "must be 2 (Crossbar.io's current format)"),
        }
        let workers = self.list("config.workers", root.get("workers"));
        for (i, worker) in workers.iter().enumerate() {
            self.worker(&format!("workers[{i}]"), worker);
        }
        if self.plan.listeners.is_empty() && self.errors.is_empty() {
            self.error(
                "config.workers",
                "no router worker with a transport we can serve",
            );
        }
    }

    fn worker(&mut self, path: &str, worker: &Value) {
        let Some(worker) = self.object(path, worker) else {
            return;
        };
        let kind = worker.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "router" {
            let why = format!("a {kind:?} worker is not run: only router workers are (run components as separate clients)");
            return self.warn(path, why);
        }
        self.keys(
            path,
            worker,
            &["type", "id", "realms", "transports"],
            &[
                (
                    "options",
                    Ignored("worker process options (title, env, Python path) are Crossbar.io's"),
                ),
                (
                    "components",
                    Ignored("router components are Python classes; run them as separate clients"),
                ),
                (
                    "connections",
                    Ignored("database connections are Crossbar.io's"),
                ),
                ("manhole", Ignored("Crossbar.io's debugging shell")),
            ],
        );
        for (i, realm) in self
            .list(&format!("{path}.realms"), worker.get("realms"))
            .iter()
            .enumerate()
        {
            self.realm(&format!("{path}.realms[{i}]"), realm);
        }
        let transports = self.list(&format!("{path}.transports"), worker.get("transports"));
        for (i, transport) in transports.iter().enumerate() {
            self.transport(&format!("{path}.transports[{i}]"), transport);
        }
    }

    // ---- realms and roles ----------------------------------------------------------

    fn realm(&mut self, path: &str, realm: &Value) {
        let Some(realm) = self.object(path, realm) else {
            return;
        };
        self.keys(
            path,
            realm,
            &["name", "roles", "options", "id"],
            &[(
                "store",
                Ignored("no event history is kept (retained events still are)"),
            )],
        );
        let Some(name) = self.required_string(&format!("{path}.name"), realm.get("name")) else {
            return;
        };
        let mut config = match RealmConfig::new(&name) {
            Ok(config) => config,
            Err(e) => return self.error(&format!("{path}.name"), e),
        };
        if let Some(options) = realm.get("options") {
            let at = format!("{path}.options");
            if let Some(options) = self.object(&at, options) {
                self.keys(
                    &at,
                    options,
                    &["enable_meta_api"],
                    &[
                        (
                            "bridge_meta_api",
                            Ignored("there are no router-to-router links"),
                        ),
                        (
                            "uri_check",
                            Ignored("URIs are always checked in the loose form"),
                        ),
                        (
                            "event_dispatching_chunk_size",
                            Ignored("events are sent as their subscribers read them"),
                        ),
                    ],
                );
                let meta = self.bool(
                    &format!("{at}.enable_meta_api"),
                    options.get("enable_meta_api"),
                );
                // Crossbar.io serves the meta API unless told not to, as we do.
                config.meta_api = meta.unwrap_or(true);
            }
        }
        for (i, role) in self
            .list(&format!("{path}.roles"), realm.get("roles"))
            .iter()
            .enumerate()
        {
            if let Some(role) = self.role(&format!("{path}.roles[{i}]"), role) {
                config = config.role(role);
            }
        }
        if self
            .plan
            .config
            .realms
            .iter()
            .any(|r| r.name == config.name)
        {
            return self.error(path, format!("realm {name} is configured twice"));
        }
        self.plan.config.realms.push(config);
    }

    fn role(&mut self, path: &str, role: &Value) -> Option<RoleConfig> {
        let role = self.object(path, role)?;
        self.keys(
            path,
            role,
            &["name", "permissions", "authorizer", "id"],
            &[],
        );
        let name = self.required_string(&format!("{path}.name"), role.get("name"))?;
        let mut config = RoleConfig::new(&name);
        let at = format!("{path}.authorizer");
        if let Some(procedure) = self.string(&at, role.get("authorizer")) {
            if role.contains_key("permissions") {
                self.error(path, "give either permissions or an authorizer, not both");
            }
            match Uri::parse(&procedure) {
                Ok(uri) => config.authorizer = Some(uri),
                Err(e) => self.error(&at, e),
            }
        }
        let permissions = self.list(&format!("{path}.permissions"), role.get("permissions"));
        for (i, permission) in permissions.iter().enumerate() {
            if let Some(p) = self.permission(&format!("{path}.permissions[{i}]"), permission) {
                config = config.permit(p);
            }
        }
        Some(config)
    }

    fn permission(&mut self, path: &str, permission: &Value) -> Option<Permission> {
        let permission = self.object(path, permission)?;
        self.keys(
            path,
            permission,
            &["uri", "match", "allow", "disclose", "cache"],
            &[("validate", Refused("payload validation is not supported"))],
        );
        let uri = self.required_string(&format!("{path}.uri"), permission.get("uri"))?;
        let at = format!("{path}.match");
        let (uri, match_policy) = match self.string(&at, permission.get("match")).as_deref() {
            Some("exact") => (uri, PermissionMatch::Exact),
            Some("prefix") => (uri, PermissionMatch::Prefix),
            Some("wildcard") => (uri, PermissionMatch::Wildcard),
            Some(other) => {
                self.error(&at, format!("{other:?} is not exact, prefix or wildcard"));
                return None;
            }
            // Crossbar.io's "starred" URIs: a trailing `*` is a prefix, other stars
            // are wildcard components.
            None => match uri.matches('*').count() {
                0 => (uri, PermissionMatch::Exact),
                1 if uri.ends_with('*') => (
                    uri.trim_end_matches('*').to_owned(),
                    PermissionMatch::Prefix,
                ),
                _ => (uri.replace('*', ""), PermissionMatch::Wildcard),
            },
        };
        let mut allow = Allow::NONE;
        if let Some(value) = permission.get("allow") {
            let at = format!("{path}.allow");
            if let Some(object) = self.object(&at, value) {
                self.keys(
                    &at,
                    object,
                    &["call", "register", "publish", "subscribe"],
                    &[],
                );
                let mut flag = |key: &str| {
                    self.bool(&format!("{at}.{key}"), object.get(key))
                        .unwrap_or(false)
                };
                allow = Allow {
                    call: flag("call"),
                    register: flag("register"),
                    publish: flag("publish"),
                    subscribe: flag("subscribe"),
                };
            }
        }
        let mut disclose = Disclose::default();
        if let Some(value) = permission.get("disclose") {
            let at = format!("{path}.disclose");
            if let Some(object) = self.object(&at, value) {
                self.keys(&at, object, &["caller", "publisher"], &[]);
                disclose = Disclose {
                    caller: self
                        .bool(&format!("{at}.caller"), object.get("caller"))
                        .unwrap_or(false),
                    publisher: self
                        .bool(&format!("{at}.publisher"), object.get("publisher"))
                        .unwrap_or(false),
                };
            }
        }
        self.bool(&format!("{path}.cache"), permission.get("cache"));
        let mut out = Permission::exact(&uri, allow).disclose(disclose);
        out.match_policy = match_policy;
        Some(out)
    }

    // ---- transports ----------------------------------------------------------------

    fn transport(&mut self, path: &str, transport: &Value) {
        let Some(transport) = self.object(path, transport) else {
            return;
        };
        let kind = transport.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "websocket" | "rawsocket" => {
                self.keys(
                    path,
                    transport,
                    &["type", "id", "endpoint", "serializers", "options", "auth", "url", "debug"],
                    &[("cookie", Ignored("cookie tracking is not kept"))],
                );
                let transport_kind = if kind == "websocket" {
                    ListenTransport::WebSocket { path: None }
                } else {
                    ListenTransport::RawSocket
                };
                let Some(mut listener) = self.endpoint(path, transport, transport_kind) else {
                    return;
                };
                self.protocol(path, transport, kind, &mut listener);
                self.add_listener(path, transport, listener);
            }
            "web" => self.web(path, transport),
            "universal" => self.error(
                path,
                "not supported: a universal transport (several protocols on one port); give each protocol its own transport",
            ),
            other => self.warn(path, format!("a {other:?} transport is not served")),
        }
    }

    /// A web transport: its one `websocket` path becomes a WebSocket listener at that
    /// path; other path services are named.
    fn web(&mut self, path: &str, transport: &Map<String, Value>) {
        self.keys(
            path,
            transport,
            &["type", "id", "endpoint", "paths"],
            &[(
                "options",
                Ignored("web server options (HSTS, access log, ...) are not applied"),
            )],
        );
        let at = format!("{path}.paths");
        let Some(paths) = transport.get("paths").and_then(|p| self.object(&at, p)) else {
            return self.error(&at, "is required");
        };
        let mut websocket = None;
        let mut web = Vec::new();
        for (name, service) in paths {
            let here = format!("{at}.{name}");
            let url_path = if name == "/" {
                "/".to_owned()
            } else {
                format!("/{name}")
            };
            let kind = service.get("type").and_then(Value::as_str).unwrap_or("");
            match kind {
                "websocket" if websocket.is_some() => self.error(
                    &here,
                    "not supported: more than one WebSocket path on one web transport",
                ),
                "websocket" => websocket = Some((here, url_path, service)),
                "publisher" | "caller" => {
                    if let Some(bridge) = self.bridge(&here, service, url_path) {
                        web.push(match kind {
                            "publisher" => WebService::Publisher(bridge),
                            _ => WebService::Caller(bridge),
                        });
                    }
                }
                "static" => {
                    if let Some(directory) = self.static_directory(&here, service) {
                        web.push(WebService::Static {
                            path: url_path,
                            directory,
                        });
                    }
                }
                other => self.warn(&here, format!("a {other:?} web service is not served")),
            }
        }
        let Some((here, url_path, service)) = websocket else {
            if web.is_empty() {
                return self.warn(
                    path,
                    "serves nothing this router speaks, so none of it is served",
                );
            }
            let Some(mut listener) = self.endpoint(path, transport, super::plan::http_only())
            else {
                return;
            };
            listener.web = web;
            // No WAMP session comes through it; the anonymous default is never used.
            return self.add_listener(path, &Map::new(), listener);
        };
        let Some(service) = self.object(&here, service) else {
            return;
        };
        self.keys(
            &here,
            service,
            &[
                "type",
                "id",
                "serializers",
                "options",
                "auth",
                "url",
                "debug",
            ],
            &[("cookie", Ignored("cookie tracking is not kept"))],
        );
        let kind = ListenTransport::WebSocket {
            path: Some(url_path),
        };
        let Some(mut listener) = self.endpoint(path, transport, kind) else {
            return;
        };
        self.protocol(&here, service, "websocket", &mut listener);
        listener.web = web;
        self.add_listener(&here, service, listener);
    }

    /// A `publisher` or `caller` path: the HTTP bridge.
    fn bridge(&mut self, path: &str, service: &Value, url_path: String) -> Option<HttpBridge> {
        let service = self.object(path, service)?;
        self.keys(path, service, &["type", "realm", "role", "options"], &[]);
        let realm = self.required_string(&format!("{path}.realm"), service.get("realm"));
        let role = self.required_string(&format!("{path}.role"), service.get("role"));
        let mut bridge = HttpBridge::new(url_path, realm?, role?);
        let Some(options) = service.get("options") else {
            return Some(bridge);
        };
        let at = format!("{path}.options");
        let options = self.object(&at, options)?;
        self.keys(
            &at,
            options,
            &[
                "key",
                "secret",
                "post_body_limit",
                "timestamp_delta_limit",
                "debug",
                "require_ip",
                "require_tls",
            ],
            &[],
        );
        if let Some(tls) = self.bool(&format!("{at}.require_tls"), options.get("require_tls")) {
            bridge.require_tls = tls;
        }
        let at_ip = format!("{at}.require_ip");
        for network in self.list(&at_ip, options.get("require_ip")) {
            match network.as_str() {
                Some(n) => bridge.require_ip.push(n.to_owned()),
                // Leaving it out would serve every address.
                None => self.error(
                    &at_ip,
                    format!("{network} is not a network like \"10.0.0.0/8\""),
                ),
            }
        }
        let key = self.string(&format!("{at}.key"), options.get("key"));
        let secret = match options.get("secret") {
            Some(_) => self.secret(&format!("{at}.secret"), options.get("secret")),
            None => None,
        };
        match (key, secret) {
            (Some(key), Some(secret)) => bridge = bridge.signed(key, secret),
            (None, None) => {}
            _ => self.error(&at, "give both key and secret for signed requests"),
        }
        if let Some(n) = self.uint(
            &format!("{at}.post_body_limit"),
            options.get("post_body_limit"),
        ) {
            // Crossbar.io's 0 is "no limit"; here every body is bounded.
            if n > 0 {
                bridge.post_body_limit = usize::try_from(n).unwrap_or(usize::MAX);
            }
        }
        let at_delta = format!("{at}.timestamp_delta_limit");
        if let Some(n) = self.uint(&at_delta, options.get("timestamp_delta_limit")) {
            bridge.timestamp_delta_limit = Duration::from_secs(n);
        }
        self.bool(&format!("{at}.debug"), options.get("debug"));
        Some(bridge)
    }

    /// A `static` path: its `directory`, relative to the configuration's folder.
    fn static_directory(&mut self, path: &str, service: &Value) -> Option<PathBuf> {
        let service = self.object(path, service)?;
        self.keys(
            path,
            service,
            &["type", "directory"],
            &[
                (
                    "options",
                    Ignored("static options (listings, MIME types, caching) are not applied"),
                ),
                (
                    "package",
                    Refused("files from a Python package cannot be served; give a directory"),
                ),
                (
                    "resource",
                    Refused("files from a Python package cannot be served; give a directory"),
                ),
            ],
        );
        let directory =
            self.required_string(&format!("{path}.directory"), service.get("directory"))?;
        Some(self.dir.join(directory))
    }

    /// The listener for a transport's `endpoint`.
    fn endpoint(
        &mut self,
        path: &str,
        transport: &Map<String, Value>,
        kind: ListenTransport,
    ) -> Option<ListenerConfig> {
        let at = format!("{path}.endpoint");
        let Some(endpoint) = transport.get("endpoint") else {
            self.error(&at, "is required");
            return None;
        };
        let endpoint = self.object(&at, endpoint)?;
        match endpoint.get("type").and_then(Value::as_str) {
            Some("tcp") => {
                self.keys(
                    &at,
                    endpoint,
                    &["type", "port", "interface", "version", "tls", "backlog"],
                    &[
                        (
                            "shared",
                            Ignored("the port is not shared between processes"),
                        ),
                        (
                            "user_timeout",
                            Ignored("TCP keepalive and the WebSocket ping find dead peers instead"),
                        ),
                        ("portrange", Refused("give one port")),
                    ],
                );
                let port = match endpoint.get("port") {
                    Some(Value::String(s)) => {
                        let value = s
                            .strip_prefix("${")
                            .and_then(|v| v.strip_suffix('}'))
                            .map_or(Ok(s.clone()), std::env::var);
                        value.ok().and_then(|v| v.parse::<u16>().ok())
                    }
                    Some(v) => v.as_u64().and_then(|p| u16::try_from(p).ok()),
                    None => None,
                };
                let Some(port) = port else {
                    self.error(&format!("{at}.port"), "must be a port number");
                    return None;
                };
                let version = self
                    .uint(&format!("{at}.version"), endpoint.get("version"))
                    .unwrap_or(4);
                let interface = self.string(&format!("{at}.interface"), endpoint.get("interface"));
                let host = match (interface, version) {
                    (Some(i), _) if i.contains(':') => format!("[{i}]"),
                    (Some(i), _) => i,
                    (None, 6) => "[::]".to_owned(),
                    (None, _) => "0.0.0.0".to_owned(),
                };
                let mut listener =
                    ListenerConfig::new(BindAddress::Tcp(format!("{host}:{port}")), kind);
                if let Some(tls) = endpoint.get("tls") {
                    listener.tls = self.tls(&format!("{at}.tls"), tls);
                }
                let backlog = self.uint(&format!("{at}.backlog"), endpoint.get("backlog"));
                listener.backlog = backlog.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                Some(listener)
            }
            Some("unix") => {
                self.keys(
                    &at,
                    endpoint,
                    &["type", "path"],
                    &[(
                        "backlog",
                        Ignored("a Unix socket's listen queue is the runtime's"),
                    )],
                );
                let file = self.required_string(&format!("{at}.path"), endpoint.get("path"))?;
                Some(ListenerConfig::new(
                    BindAddress::Unix(self.dir.join(file)),
                    kind,
                ))
            }
            other => {
                self.error(
                    &format!("{at}.type"),
                    format!("not supported: {other:?} endpoints (tcp and unix are)"),
                );
                None
            }
        }
    }

    fn tls(&mut self, path: &str, tls: &Value) -> Option<ServerTls> {
        let tls = self.object(path, tls)?;
        self.keys(
            path,
            tls,
            &["key", "certificate", "ca_certificates"],
            &[
                ("dhparam", Ignored("the TLS library picks its key exchange")),
                (
                    "ciphers",
                    Ignored("the TLS library's cipher suites are used"),
                ),
                (
                    "chain_certificates",
                    Ignored("put the chain in the certificate file, leaf first"),
                ),
            ],
        );
        let key = self.required_string(&format!("{path}.key"), tls.get("key"))?;
        let certificate =
            self.required_string(&format!("{path}.certificate"), tls.get("certificate"))?;
        let mut client_cas = Vec::new();
        let at = format!("{path}.ca_certificates");
        for file in self.list(&at, tls.get("ca_certificates")) {
            let Some(file) = file.as_str() else {
                self.error(&at, "must be a list of file names");
                continue;
            };
            match std::fs::read(self.dir.join(file)) {
                Ok(mut pem) => {
                    client_cas.append(&mut pem);
                    client_cas.push(b'\n');
                }
                Err(e) => self.error(&at, format!("{file}: {e}")),
            }
        }
        let identity = ServerTls::from_pem_files(self.dir.join(certificate), self.dir.join(key));
        // With CA certificates, clients are asked for theirs (the `tls` method).
        let tls = match identity {
            Ok(tls) if !client_cas.is_empty() => tls.client_certificates(&client_cas),
            other => other,
        };
        match tls {
            Ok(tls) => Some(tls),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    /// `serializers` and `options` of a WebSocket or RawSocket transport.
    fn protocol(
        &mut self,
        path: &str,
        transport: &Map<String, Value>,
        kind: &str,
        listener: &mut ListenerConfig,
    ) {
        if let Some(list) = transport.get("serializers") {
            let at = format!("{path}.serializers");
            let mut serializers = Vec::new();
            for name in self.list(&at, Some(list)) {
                match name.as_str() {
                    Some("json") => serializers.push(SerializerKind::Json),
                    Some("msgpack") => serializers.push(SerializerKind::MsgPack),
                    Some("cbor") => serializers.push(SerializerKind::Cbor),
                    Some(other @ ("ubjson" | "flatbuffers")) => {
                        self.warn(
                            &at,
                            format!("ignored: {other} is not spoken (json, msgpack and cbor are)"),
                        );
                    }
                    _ => self.error(&at, format!("unknown serializer {name}")),
                }
            }
            if serializers.is_empty() {
                self.error(
                    &at,
                    "none of these serializers is spoken (json, msgpack and cbor are)",
                );
            }
            listener.serializers = serializers;
        }
        let Some(options) = transport.get("options") else {
            return;
        };
        let at = format!("{path}.options");
        let Some(options) = self.object(&at, options) else {
            return;
        };
        if kind == "rawsocket" {
            self.keys(&at, options, &["max_message_size"], &[]);
        } else {
            self.keys(
                &at,
                options,
                &[
                    "max_message_size",
                    "max_frame_size",
                    "auto_ping_interval",
                    "auto_ping_timeout",
                    "open_handshake_timeout",
                    "close_handshake_timeout",
                    "allowed_origins",
                    "allow_null_origin",
                ],
                &[
                    (
                        "compression",
                        Ignored("WebSocket compression is not offered"),
                    ),
                    ("auto_ping_size", Ignored("pings carry their own payload")),
                    (
                        "auto_ping_restart_on_any_traffic",
                        Ignored("any traffic counts as life, as by default in Crossbar.io"),
                    ),
                    ("enable_webstatus", Ignored("no status page is served")),
                    ("external_port", Ignored("only informational")),
                    ("enable_hybi10", Ignored("only RFC 6455 is spoken")),
                    ("enable_rfc6455", Ignored("RFC 6455 is always spoken")),
                    ("validate_utf8", Ignored("text frames are always checked")),
                    (
                        "mask_server_frames",
                        Ignored("server frames are never masked (RFC 6455)"),
                    ),
                    (
                        "require_masked_client_frames",
                        Ignored("client frames must always be masked (RFC 6455)"),
                    ),
                    ("apply_mask", Ignored("masking follows RFC 6455")),
                    ("auto_fragment_size", Ignored("messages are not fragmented")),
                    (
                        "fail_by_drop",
                        Ignored("failed connections are closed per RFC 6455"),
                    ),
                    (
                        "echo_close_codereason",
                        Ignored("close codes are not echoed"),
                    ),
                    ("tcp_nodelay", Ignored("TCP_NODELAY is always set")),
                    ("enable_flash_policy", Ignored("Flash is not served")),
                    ("flash_policy", Ignored("Flash is not served")),
                    (
                        "require_websocket_subprotocol",
                        Ignored("a WAMP subprotocol is always required"),
                    ),
                    (
                        "show_server_version",
                        Ignored("the server version is not shown"),
                    ),
                ],
            );
        }
        let message = self.uint(
            &format!("{at}.max_message_size"),
            options.get("max_message_size"),
        );
        let frame = self.uint(
            &format!("{at}.max_frame_size"),
            options.get("max_frame_size"),
        );
        if let Some(bytes) = message.or(frame) {
            // One limit covers frames and messages here; a smaller frame limit would
            // only refuse what the message limit allows in fragments.
            listener.max_message_size = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        let ms = |node: &mut Node, key: &str| {
            node.uint(&format!("{at}.{key}"), options.get(key))
                .map(Duration::from_millis)
        };
        let interval = ms(self, "auto_ping_interval");
        let timeout = ms(self, "auto_ping_timeout");
        match (interval, timeout) {
            (Some(i), _) if i.is_zero() => listener.auto_ping = None,
            (Some(i), t) => {
                listener.auto_ping = Some((i, t.unwrap_or(wamp_tokio::DEFAULT_KEEPALIVE.1)))
            }
            (None, Some(t)) => {
                let (i, _) = listener.auto_ping.unwrap_or(wamp_tokio::DEFAULT_KEEPALIVE);
                listener.auto_ping = Some((i, t));
            }
            (None, None) => {}
        }
        for (key, slot) in [
            ("open_handshake_timeout", &mut self.plan.handshake_timeout),
            ("close_handshake_timeout", &mut self.plan.close_timeout),
        ] {
            if let Some(value) = options.get(key).and_then(Value::as_u64) {
                // The runtime has one of each for all listeners: the longest asked for.
                let d = Duration::from_millis(value);
                *slot = Some(slot.map_or(d, |s: Duration| s.max(d)));
            }
        }
        if let Some(origins) = options.get("allowed_origins") {
            let at = format!("{at}.allowed_origins");
            let patterns: Vec<String> = self
                .list(&at, Some(origins))
                .iter()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect();
            listener.allowed_origins = Some(patterns);
        }
        if self.bool(
            &format!("{at}.allow_null_origin"),
            options.get("allow_null_origin"),
        ) == Some(false)
        {
            self.warn(
                &format!("{at}.allow_null_origin"),
                "ignored: pages with the opaque origin null are served",
            );
        }
    }

    /// Adds a listener with the transport's `auth` (Crossbar.io's default where it has
    /// none: anonymous, role `anonymous`).
    fn add_listener(
        &mut self,
        path: &str,
        transport: &Map<String, Value>,
        mut listener: ListenerConfig,
    ) {
        let auth = match transport.get("auth") {
            Some(auth) => match self.auth(&format!("{path}.auth"), auth) {
                Some(auth) => auth,
                None => return,
            },
            None => AuthConfig::new().anonymous("anonymous"),
        };
        self.next_auth += 1;
        let name = format!("transport {}", self.next_auth);
        self.plan.config = std::mem::take(&mut self.plan.config).transport_auth(&name, auth);
        listener.auth = Some(name);
        self.plan.listeners.push(listener);
    }

    // ---- authentication ------------------------------------------------------------

    fn auth(&mut self, path: &str, auth: &Value) -> Option<AuthConfig> {
        let auth = self.object(path, auth)?;
        let errors = self.errors.len();
        self.keys(
            path,
            auth,
            &[
                "anonymous",
                "ticket",
                "wampcra",
                "cryptosign",
                "scram",
                "tls",
            ],
            &[("cookie", Refused("cookie authentication is not supported"))],
        );
        let mut out = AuthConfig::new();
        for (method, config) in auth {
            let at = format!("{path}.{method}");
            let Some(config) = self.object(&at, config) else {
                continue;
            };
            match config.get("type").and_then(Value::as_str) {
                Some("static") => {}
                Some("dynamic") if !matches!(method.as_str(), "scram" | "tls") => {
                    self.dynamic(&at, method, config, &mut out);
                    continue;
                }
                Some("dynamic") => {
                    self.warn(
                        &at,
                        format!("ignored: a dynamic {method} authenticator is not supported"),
                    );
                    continue;
                }
                Some("function") => {
                    self.error(
                        &at,
                        "not supported: a Python function authenticator (use type dynamic with a procedure)",
                    );
                    continue;
                }
                other => {
                    self.error(
                        &format!("{at}.type"),
                        format!("{other:?} is not static, dynamic or function"),
                    );
                    continue;
                }
            }
            match method.as_str() {
                "anonymous" => self.anonymous(&at, config, &mut out),
                "tls" => {
                    let fields = ["certificate-sha1", "role", "realm"];
                    for (authid, p, here) in self.principals(&at, config, "principals", &fields) {
                        let at_sha1 = format!("{here}.certificate-sha1");
                        let sha1 = self.required_string(&at_sha1, p.get("certificate-sha1"));
                        let role = self.principal_role(&here, p);
                        let realm = self.realm_name(&format!("{here}.realm"), p.get("realm"));
                        if let (Some(certificate_sha1), Some(role)) = (sha1, role) {
                            out.tls.push(TlsPrincipal {
                                authid,
                                role,
                                certificate_sha1,
                                realm,
                            });
                        }
                    }
                }
                "ticket" => {
                    for (authid, p, here) in
                        self.principals(&at, config, "principals", &["ticket", "role"])
                    {
                        let ticket = self.secret(&format!("{here}.ticket"), p.get("ticket"));
                        let role = self.principal_role(&here, p);
                        if let (Some(ticket), Some(role)) = (ticket, role) {
                            out.ticket.push(TicketPrincipal {
                                authid,
                                role,
                                ticket,
                                realm: None,
                            });
                        }
                    }
                }
                "wampcra" => {
                    for (authid, p, here) in self.principals(
                        &at,
                        config,
                        "users",
                        &["secret", "role", "salt", "iterations", "keylen"],
                    ) {
                        let secret = self.secret(&format!("{here}.secret"), p.get("secret"));
                        let role = self.principal_role(&here, p);
                        let salt =
                            self.string(&format!("{here}.salt"), p.get("salt"))
                                .map(|salt| {
                                    let mut s = CraSalt::new(&salt);
                                    if let Some(n) = self
                                        .uint(&format!("{here}.iterations"), p.get("iterations"))
                                    {
                                        s.iterations = u32::try_from(n).unwrap_or(u32::MAX);
                                    }
                                    if let Some(n) =
                                        self.uint(&format!("{here}.keylen"), p.get("keylen"))
                                    {
                                        s.keylen = usize::try_from(n).unwrap_or(usize::MAX);
                                    }
                                    s
                                });
                        if let (Some(secret), Some(role)) = (secret, role) {
                            out.wampcra.push(CraPrincipal {
                                authid,
                                role,
                                secret,
                                salt,
                                realm: None,
                            });
                        }
                    }
                }
                "cryptosign" => {
                    if config.contains_key("trustroots") {
                        self.error(
                            &format!("{at}.trustroots"),
                            "not supported: certificate trust roots",
                        );
                    }
                    for (authid, p, here) in self.principals(
                        &at,
                        config,
                        "principals",
                        &["authorized_keys", "role", "realm"],
                    ) {
                        let keys: Vec<String> = self
                            .list(&format!("{here}.authorized_keys"), p.get("authorized_keys"))
                            .iter()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect();
                        let role = self.principal_role(&here, p);
                        let realm = self.realm_name(&format!("{here}.realm"), p.get("realm"));
                        if let Some(role) = role {
                            out.cryptosign.push(CryptosignPrincipal {
                                authid,
                                role,
                                authorized_keys: keys,
                                realm,
                            });
                        }
                    }
                }
                "scram" => {
                    let fields = [
                        "kdf",
                        "iterations",
                        "memory",
                        "salt",
                        "stored-key",
                        "server-key",
                        "role",
                    ];
                    for (authid, p, here) in self.principals(&at, config, "principals", &fields) {
                        if let Some(principal) = self.scram(&here, authid, p) {
                            out.autobahn_scram.push(principal);
                        }
                    }
                }
                _ => {}
            }
        }
        (self.errors.len() == errors).then_some(out)
    }

    /// A `dynamic` method: the procedure that decides, and the realm it is on.
    fn dynamic(
        &mut self,
        path: &str,
        method: &str,
        config: &Map<String, Value>,
        out: &mut AuthConfig,
    ) {
        self.keys(
            path,
            config,
            &["type", "authenticator", "authenticator-realm"],
            &[],
        );
        let at = format!("{path}.authenticator");
        let Some(procedure) = self.required_string(&at, config.get("authenticator")) else {
            return;
        };
        let mut authenticator = match Authenticator::new(&procedure) {
            Ok(a) => a,
            Err(e) => return self.error(&at, e),
        };
        let at = format!("{path}.authenticator-realm");
        authenticator.realm = self.realm_name(&at, config.get("authenticator-realm"));
        let slot = match method {
            "anonymous" => &mut out.authenticators.anonymous,
            "ticket" => &mut out.authenticators.ticket,
            "wampcra" => &mut out.authenticators.wampcra,
            _ => &mut out.authenticators.cryptosign,
        };
        *slot = Some(authenticator);
    }

    fn anonymous(&mut self, path: &str, config: &Map<String, Value>, out: &mut AuthConfig) {
        self.keys(
            path,
            config,
            &["type", "role", "realm"],
            &[(
                "authid",
                Ignored("anonymous sessions get a random authid, so none can pose as a principal"),
            )],
        );
        let role = self.string(&format!("{path}.role"), config.get("role"));
        let realm = self.realm_name(&format!("{path}.realm"), config.get("realm"));
        out.anonymous = Some(AnonymousAuth {
            role: role.unwrap_or_else(|| "anonymous".into()),
            realm,
        });
    }

    /// The principals of a static method: `(authid, its object, its path)` each.
    fn principals<'a>(
        &mut self,
        path: &str,
        config: &'a Map<String, Value>,
        key: &str,
        fields: &[&str],
    ) -> Vec<(String, &'a Map<String, Value>, String)> {
        self.keys(path, config, &["type", key], &[]);
        let at = format!("{path}.{key}");
        let Some(principals) = config.get(key) else {
            self.error(&at, "is required");
            return Vec::new();
        };
        let Some(principals) = self.object(&at, principals) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (authid, principal) in principals {
            let here = format!("{at}.{authid}");
            if let Some(p) = self.object(&here, principal) {
                self.keys(&here, p, fields, &[]);
                out.push((authid.clone(), p, here));
            }
        }
        out
    }

    fn principal_role(&mut self, path: &str, principal: &Map<String, Value>) -> Option<String> {
        self.required_string(&format!("{path}.role"), principal.get("role"))
    }

    fn realm_name(&mut self, path: &str, value: Option<&Value>) -> Option<Uri> {
        let name = self.string(path, value)?;
        match Uri::parse(&name) {
            Ok(uri) => Some(uri),
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    /// A static `scram` principal: Crossbar.io's stored keys (hex), for Autobahn's
    /// `scram`, which knows Argon2id only.
    fn scram(
        &mut self,
        path: &str,
        authid: String,
        p: &Map<String, Value>,
    ) -> Option<ScramPrincipal> {
        let kdf = self.required_string(&format!("{path}.kdf"), p.get("kdf"))?;
        if kdf != "argon2id-13" {
            self.warn(
                &format!("{path}.kdf"),
                format!("ignored: Autobahn's scram cannot use {kdf:?} (only argon2id-13); the principal is left out"),
            );
            return None;
        }
        let number = |node: &mut Node, key: &str| {
            let value = node.uint(&format!("{path}.{key}"), p.get(key))?;
            u32::try_from(value).ok()
        };
        let iterations = number(self, "iterations")?;
        let memory = number(self, "memory")?;
        let mut hex_field = |key: &str| {
            let at = format!("{path}.{key}");
            let text = self.required_string(&at, p.get(key))?;
            match hex::decode(&text).ok() {
                Some(bytes) => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                None => {
                    self.error(&at, "must be hex digits");
                    None
                }
            }
        };
        let credential = ScramCredential {
            salt: hex_field("salt")?,
            stored_key: hex_field("stored-key")?,
            server_key: hex_field("server-key")?,
        };
        let role = self.principal_role(path, p)?;
        Some(ScramPrincipal {
            authid,
            role,
            password: None,
            credential: Some(credential),
            kdf: ScramKdf::Argon2id13 { iterations, memory },
            realm: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(config: Value) -> Result<Plan, String> {
        read(&config.to_string(), Path::new("/etc/node"))
    }

    /// A node with one router worker holding `realms` and `transports`.
    fn node(realms: Value, transports: Value) -> Value {
        json!({"version": 2, "workers": [{"type": "router", "realms": realms, "transports": transports}]})
    }

    fn realm1() -> Value {
        json!([{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [{"uri": "", "match": "prefix", "allow": {"call": true}}]}]}])
    }

    fn rawsocket(extra: Value) -> Value {
        let mut t = json!({"type": "rawsocket", "endpoint": {"type": "tcp", "port": 8081}});
        t.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        json!([t])
    }

    #[test]
    fn every_supported_key_maps_onto_the_router() {
        let config = json!({
            "$schema": "x", "version": 2, "controller": {},
            "workers": [
                {"type": "router", "id": "w1",
                 "realms": [{"name": "realm1", "id": "r1",
                             "options": {"enable_meta_api": false},
                             "roles": [{"name": "dyn", "authorizer": "com.example.authorize"},
                                       {"name": "user", "id": "u", "permissions": [
                                 {"uri": "com.app.", "match": "prefix", "allow": {"call": true, "register": true, "publish": true, "subscribe": true}, "disclose": {"caller": true, "publisher": true}, "cache": true},
                                 {"uri": "com.app.*", "allow": {"call": true}},
                                 {"uri": "com.*.x", "allow": {"call": true}},
                                 {"uri": "com.a..b", "match": "wildcard"},
                                 {"uri": "com.exact"}]}]}],
                 "transports": [
                    {"type": "websocket", "id": "t1", "url": "ws://x", "debug": false,
                     "endpoint": {"type": "tcp", "port": 8080, "interface": "127.0.0.1", "version": 4, "backlog": 50},
                     "serializers": ["json", "cbor"],
                     "options": {"max_message_size": 1000, "max_frame_size": 500, "auto_ping_interval": 10000, "auto_ping_timeout": 5000,
                                 "open_handshake_timeout": 2500, "close_handshake_timeout": 1000, "allowed_origins": ["http://localhost:*"], "allow_null_origin": true},
                     "auth": {
                        "anonymous": {"type": "static", "role": "user"},
                        "ticket": {"type": "static", "principals": {"joe": {"ticket": "secret", "role": "user"}}},
                        "wampcra": {"type": "static", "users": {"pete": {"secret": "s", "role": "user", "salt": "salt", "iterations": 100, "keylen": 16}}},
                        "cryptosign": {"type": "static", "principals": {"ann": {"authorized_keys": ["aa"], "role": "user", "realm": "realm1"}}}}},
                    {"type": "rawsocket", "endpoint": {"type": "unix", "path": "sock"}, "serializers": ["msgpack"], "options": {"max_message_size": 2048}},
                    {"type": "web", "endpoint": {"type": "tcp", "port": 8443, "version": 6},
                     "paths": {"ws": {"type": "websocket", "auth": {"anonymous": {"type": "static"}}}}}]},
                {"type": "router", "realms": [{"name": "realm2"}], "transports": []}]
        });
        let plan = plan(config).expect("a valid config");
        let [ws, unix, web] = &plan.listeners[..] else {
            panic!("three listeners: {:?}", plan.listeners)
        };
        assert_eq!(ws.bind, BindAddress::Tcp("127.0.0.1:8080".into()));
        assert_eq!(ws.backlog, Some(50));
        assert_eq!(ws.serializers, [SerializerKind::Json, SerializerKind::Cbor]);
        assert_eq!(ws.max_message_size, 1000);
        assert_eq!(
            ws.auto_ping,
            Some((Duration::from_secs(10), Duration::from_secs(5)))
        );
        assert_eq!(
            ws.allowed_origins.as_deref(),
            Some(&["http://localhost:*".to_owned()][..])
        );
        assert_eq!(plan.handshake_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(plan.close_timeout, Some(Duration::from_secs(1)));
        assert_eq!(unix.bind, BindAddress::Unix("/etc/node/sock".into()));
        assert_eq!(unix.transport, ListenTransport::RawSocket);
        assert_eq!((unix.serializers.len(), unix.max_message_size), (1, 2048));
        assert_eq!(web.bind, BindAddress::Tcp("[::]:8443".into()));
        assert_eq!(
            web.transport,
            ListenTransport::WebSocket {
                path: Some("/ws".into())
            }
        );
        // Each listener has its own authentication; none is the realms' own.
        let auth = |l: &ListenerConfig| {
            let name = l.auth.as_deref().expect("a transport auth");
            let t = plan
                .config
                .transport_auth
                .iter()
                .find(|t| t.name == name)
                .expect("defined");
            t.auth.clone()
        };
        let ws_auth = auth(ws);
        assert_eq!(
            ws_auth.anonymous.as_ref().map(|a| a.role.as_str()),
            Some("user")
        );
        assert_eq!(
            (
                ws_auth.ticket[0].authid.as_str(),
                ws_auth.ticket[0].ticket.as_str()
            ),
            ("joe", "secret")
        );
        let cra = &ws_auth.wampcra[0];
        assert_eq!(
            cra.salt
                .as_ref()
                .map(|s| (s.salt.as_str(), s.iterations, s.keylen)),
            Some(("salt", 100, 16))
        );
        assert_eq!(
            ws_auth.cryptosign[0].realm.as_ref().map(|r| r.as_str()),
            Some("realm1")
        );
        // Crossbar.io's default where a transport has no auth: anonymous, role anonymous.
        assert_eq!(
            auth(unix).anonymous.map(|a| a.role),
            Some("anonymous".into())
        );
        assert_eq!(
            auth(web).anonymous.map(|a| a.role),
            Some("anonymous".into())
        );
        let [realm1, realm2] = &plan.config.realms[..] else {
            panic!("two realms")
        };
        assert!(!realm1.meta_api && realm2.meta_api);
        assert_eq!(
            realm1.roles[0].authorizer.as_ref().map(|a| a.as_str()),
            Some("com.example.authorize")
        );
        let p = &realm1.roles[1].permissions;
        let policies: Vec<(&str, PermissionMatch)> =
            p.iter().map(|p| (p.uri.as_str(), p.match_policy)).collect();
        assert_eq!(
            policies,
            [
                ("com.app.", PermissionMatch::Prefix),
                ("com.app.", PermissionMatch::Prefix),
                ("com..x", PermissionMatch::Wildcard),
                ("com.a..b", PermissionMatch::Wildcard),
                ("com.exact", PermissionMatch::Exact),
            ]
        );
        assert!(p[0].allow.register && p[0].disclose.caller && p[0].disclose.publisher);
        assert!(p[1].allow.call && !p[1].allow.publish && !p[4].allow.call);
        assert_eq!(
            plan.warnings,
            ["config.controller: ignored: the node controller is Crossbar.io's own"]
        );
    }

    /// Keys that would change who may do what are refused; keys that would not are
    /// warned about; both name their path.
    #[test]
    fn unserved_keys_are_refused_or_warned_about_by_path() {
        let refused = [
            (
                node(
                    json!([{"name": "r", "roles": [{"name": "x", "authorizer": "com.authz", "permissions": []}]}]),
                    rawsocket(json!({})),
                ),
                "workers[0].realms[0].roles[0]: give either permissions or an authorizer",
            ),
            (
                node(
                    json!([{"name": "r", "roles": [{"name": "x", "permissions": [{"uri": "a", "validate": {}}]}]}]),
                    rawsocket(json!({})),
                ),
                "permissions[0].validate: not supported",
            ),
            (
                node(
                    realm1(),
                    rawsocket(json!({"auth": {"ticket": {"type": "function", "create": "x"}}})),
                ),
                "transports[0].auth.ticket: not supported: a Python function",
            ),
            (
                node(
                    realm1(),
                    rawsocket(
                        json!({"auth": {"tls": {"type": "static", "principals": {"x": {"role": "r"}}}}}),
                    ),
                ),
                "auth.tls.principals.x.certificate-sha1: is required",
            ),
            (
                node(realm1(), rawsocket(json!({"auth": {"cookie": {}}}))),
                "transports[0].auth.cookie: not supported",
            ),
            (
                node(
                    realm1(),
                    rawsocket(json!({"auth": {"anonymous": {"type": "static", "realm": "a..b"}}})),
                ),
                "auth.anonymous.realm: ",
            ),
            (
                node(
                    realm1(),
                    rawsocket(
                        json!({"auth": {"cryptosign": {"type": "static", "trustroots": {}}}}),
                    ),
                ),
                "cryptosign.trustroots: not supported",
            ),
            (
                node(
                    realm1(),
                    json!([{"type": "universal", "endpoint": {"type": "tcp", "port": 1}}]),
                ),
                "transports[0]: not supported: a universal transport",
            ),
            (
                node(
                    realm1(),
                    json!([{"type": "rawsocket", "endpoint": {"type": "tcp", "portrange": [1, 2]}}]),
                ),
                "endpoint.portrange: not supported",
            ),
            (
                node(
                    realm1(),
                    json!([{"type": "rawsocket", "endpoint": {"type": "twisted", "server_string": "x"}}]),
                ),
                "endpoint.type: not supported",
            ),
            (
                node(realm1(), rawsocket(json!({"bogus": 1}))),
                "transports[0].bogus: unknown key",
            ),
            (
                node(realm1(), rawsocket(json!({"serializers": ["ubjson"]}))),
                "none of these serializers",
            ),
            (
                node(
                    realm1(),
                    rawsocket(
                        json!({"auth": {"ticket": {"type": "static", "principals": {"joe": {"ticket": "t"}}}}}),
                    ),
                ),
                "principals.joe.role: is required",
            ),
            (
                node(json!([{"name": "r"}, {"name": "r"}]), rawsocket(json!({}))),
                "realm r is configured twice",
            ),
            (
                json!({"version": 1, "workers": []}),
                "config.version: must be 2",
            ),
        ];
        for (config, message) in refused {
            let err = plan(config.clone()).expect_err(&config.to_string());
            assert!(err.contains(message), "{config}\n{err}");
        }
        let warned = [
            (
                node(
                    realm1(),
                    rawsocket(json!({"serializers": ["msgpack", "flatbuffers"]})),
                ),
                "transports[0].serializers: ignored: flatbuffers",
            ),
            (
                node(
                    realm1(),
                    rawsocket(
                        json!({"auth": {"scram": {"type": "static", "principals": {"u": {
                        "kdf": "pbkdf2", "iterations": 1, "memory": 1, "salt": "00",
                        "stored-key": "00", "server-key": "00", "role": "anonymous"}}}}}),
                    ),
                ),
                "principals.u.kdf: ignored: Autobahn's scram cannot use",
            ),
            (
                node(
                    realm1(),
                    rawsocket(json!({"auth": {"anonymous": {"type": "static", "authid": "x"}}})),
                ),
                "anonymous.authid: ignored",
            ),
            (
                node(json!([{"name": "r", "store": {}}]), rawsocket(json!({}))),
                "realms[0].store: ignored",
            ),
            (
                node(
                    realm1(),
                    json!([{"type": "websocket", "endpoint": {"type": "tcp", "port": 1, "backlog": 10}, "options": {"compression": {}}}]),
                ),
                "options.compression: ignored",
            ),
            (
                node(
                    realm1(),
                    json!([{"type": "web", "endpoint": {"type": "tcp", "port": 1}, "paths": {"/": {"type": "static", "directory": "web"}, "ws": {"type": "websocket"}, "x": {"type": "wsgi"}}}]),
                ),
                "paths.x: a \"wsgi\" web service is not served",
            ),
            (
                json!({"version": 2, "workers": [{"type": "guest"}, {"type": "router", "realms": realm1(), "transports": rawsocket(json!({}))}]}),
                "workers[0]: a \"guest\" worker is not run",
            ),
        ];
        for (config, message) in warned {
            let plan = plan(config.clone()).unwrap_or_else(|e| panic!("{config}\n{e}"));
            assert!(
                plan.warnings.iter().any(|w| w.contains(message)),
                "{config}\n{:?}",
                plan.warnings
            );
        }
    }

    #[test]
    fn dynamic_methods_name_their_authenticator() {
        let auth = json!({"auth": {
            "ticket": {"type": "dynamic", "authenticator": "com.example.authenticate", "authenticator-realm": "auth"},
            "wampcra": {"type": "dynamic", "authenticator": "com.example.cra"},
            "anonymous": {"type": "dynamic", "authenticator": "com.example.anon"},
            "cryptosign": {"type": "dynamic", "authenticator": "com.example.key"}}});
        let mapped = plan(node(realm1(), rawsocket(auth))).expect("valid");
        let dynamic = &mapped.config.transport_auth[0].auth.authenticators;
        let name = |a: &Option<Authenticator>| a.as_ref().map(|a| a.procedure.to_string());
        assert_eq!(
            name(&dynamic.ticket).as_deref(),
            Some("com.example.authenticate")
        );
        assert_eq!(
            dynamic
                .ticket
                .as_ref()
                .and_then(|a| a.realm.as_ref())
                .map(|r| r.as_str()),
            Some("auth")
        );
        assert_eq!(name(&dynamic.wampcra).as_deref(), Some("com.example.cra"));
        assert_eq!(
            name(&dynamic.anonymous).as_deref(),
            Some("com.example.anon")
        );
        assert_eq!(
            name(&dynamic.cryptosign).as_deref(),
            Some("com.example.key")
        );
        let bad = json!({"auth": {"ticket": {"type": "dynamic"}}});
        let err = plan(node(realm1(), rawsocket(bad))).expect_err("no authenticator");
        assert!(
            err.contains("auth.ticket.authenticator: is required"),
            "{err}"
        );
    }

    /// The example in `wamp-cli/config/` reads as the README says (its secrets come from
    /// the environment, and are missing here).
    #[test]
    fn the_example_config_reads() {
        let text = include_str!("../../config/crossbar-example.json");
        let err = read(text, Path::new("/srv/node")).expect_err("secrets unset");
        assert!(
            err.contains("JOE_SECRET") && err.contains("BRIDGE_SECRET"),
            "{err}"
        );
        let text = text
            .replace("${JOE_SECRET}", "s")
            .replace("${BRIDGE_SECRET}", "t");
        let plan = read(&text, Path::new("/srv/node")).expect("a valid config");
        assert_eq!(plan.listeners.len(), 2);
        assert_eq!(
            plan.listeners[0].bind,
            BindAddress::Unix("/srv/node/backend.sock".into())
        );
        assert_eq!(plan.listeners[1].web.len(), 3);
        assert_eq!(
            plan.warnings,
            ["config.controller: ignored: the node controller is Crossbar.io's own"]
        );
    }

    #[test]
    fn a_secret_may_come_from_the_environment() {
        let config = node(
            realm1(),
            rawsocket(
                json!({"auth": {"ticket": {"type": "static", "principals": {"joe": {"ticket": "${WAMP_TEST_NO_SUCH_VAR}", "role": "anonymous"}}}}}),
            ),
        );
        let err = plan(config).expect_err("an unset variable");
        assert!(
            err.contains("environment variable WAMP_TEST_NO_SUCH_VAR is not set"),
            "{err}"
        );
        assert!(looks_like_crossbar(" \n{\"version\": 2}") && !looks_like_crossbar("[listen]"));
    }
}
