//! The meta API the router serves itself: `wamp.session.*` (with the testament),
//! `wamp.registration.*` and `wamp.subscription.*` procedures. (The meta events are
//! published where their causes happen: realm, broker, dealer.)

use wamp_proto::message::Call;
use wamp_proto::serializer::SerializerKind;
use wamp_proto::{
    Dict, Map, MatchPolicy, Options, Payload, RegistrationId, SessionId, SubscriptionId, Uri, Value,
};

use super::authorizer::Action;
use super::realm::{Ctx, Kill, Realm};

/// `wamp.error.no_such_session`.
pub(crate) const NO_SUCH_SESSION: Uri = Uri::from_static("wamp.error.no_such_session");

/// An event a session asked the router to publish when it goes away.
#[derive(Debug, Clone)]
pub(crate) struct Testament {
    pub topic: Uri,
    pub payload: Payload,
    pub options: Options,
    /// Scope `detached` (else `destroyed`).
    pub detached: bool,
}

type Outcome = Result<Payload, (Uri, String)>;

fn invalid(why: impl Into<String>) -> (Uri, String) {
    (Uri::INVALID_ARGUMENT, why.into())
}

/// The call's positional and keyword arguments as values.
struct Args {
    args: Vec<Value>,
    kwargs: Map,
}

impl Args {
    fn parse(call: &Call) -> Result<Args, (Uri, String)> {
        let args = call
            .payload
            .args_values()
            .map_err(|e| invalid(format!("{}: {e}", call.procedure)))?;
        let kwargs = call
            .payload
            .kwargs_values()
            .map_err(|e| invalid(format!("{}: {e}", call.procedure)))?;
        Ok(Args { args, kwargs })
    }

    fn id(&self, index: usize, what: &str) -> Result<u64, (Uri, String)> {
        self.args
            .get(index)
            .and_then(Value::as_u64)
            .filter(|n| wamp_proto::Id::new(*n).is_some())
            .ok_or_else(|| invalid(format!("argument {} must be a {what} ID", index + 1)))
    }

    fn string(&self, index: usize, what: &str) -> Result<&str, (Uri, String)> {
        self.args
            .get(index)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("argument {} must be the {what}", index + 1)))
    }

    /// An optional list of strings (the authrole filters).
    fn roles_filter(&self) -> Result<Option<Vec<&str>>, (Uri, String)> {
        match self.args.first() {
            None | Some(Value::Null) => Ok(None),
            Some(Value::List(l)) => l
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| invalid("the authrole filter must be a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid("the authrole filter must be a list of strings")),
        }
    }

    /// `reason` and `message` for the kill procedures.
    fn kill(&self) -> Result<(Uri, Option<String>), (Uri, String)> {
        let reason = match self.kwargs.get("reason") {
            None | Some(Value::Null) => Uri::CLOSE_NORMAL,
            Some(v) => v
                .as_str()
                .and_then(|s| Uri::parse(s).ok())
                .ok_or_else(|| (Uri::INVALID_URI, "reason must be a valid URI".to_owned()))?,
        };
        let message = match self.kwargs.get("message") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| invalid("message must be a string"))?
                    .to_owned(),
            ),
        };
        Ok((reason, message))
    }

    /// The `scope` keyword of the testament procedures.
    fn detached(&self) -> Result<bool, (Uri, String)> {
        match self.kwargs.get("scope") {
            None | Some(Value::Null) => Ok(false),
            Some(v) => match v.as_str() {
                Some("destroyed") => Ok(false),
                Some("detached") => Ok(true),
                _ => Err(invalid("scope must be \"destroyed\" or \"detached\"")),
            },
        }
    }

    fn match_policy(&self, index: usize) -> Result<MatchPolicy, (Uri, String)> {
        match self.args.get(index) {
            None | Some(Value::Null) => Ok(MatchPolicy::Exact),
            Some(Value::Map(m)) => match m.get("match") {
                None | Some(Value::Null) => Ok(MatchPolicy::Exact),
                Some(v) => v
                    .as_str()
                    .and_then(MatchPolicy::from_wire)
                    .ok_or_else(|| invalid("options.match must be exact, prefix or wildcard")),
            },
            Some(_) => Err(invalid(format!(
                "argument {} must be the options",
                index + 1
            ))),
        }
    }
}

fn result(kind: SerializerKind, value: Value) -> Outcome {
    Payload::encode_args(kind, &[value]).map_err(|e| invalid(e.to_string()))
}

fn ids<T: Into<wamp_proto::Id> + Copy>(list: &[T]) -> Value {
    Value::List(
        list.iter()
            .map(|id| Value::UInt((*id).into().get()))
            .collect(),
    )
}

fn per_policy<T: Into<wamp_proto::Id> + Copy>(lists: [Vec<T>; 3]) -> Value {
    let mut m = Map::new();
    for (name, list) in ["exact", "prefix", "wildcard"].into_iter().zip(lists) {
        m.insert(name.into(), ids(&list));
    }
    Value::Map(m)
}

fn nullable(id: Option<u64>) -> Value {
    id.map_or(Value::Null, Value::UInt)
}

/// Serves a meta procedure for `caller` (already authorized to call it).
pub(crate) fn call(
    realm: &mut Realm,
    caller: SessionId,
    call: &Call,
    ctx: &mut Ctx<'_>,
) -> Outcome {
    let Some(me) = realm.sessions.get(&caller) else {
        return Err(invalid("the caller is gone"));
    };
    let kind = me.serializer;
    let a = Args::parse(call)?;
    let procedure = call.procedure.as_str();
    match procedure {
        "wamp.session.count" | "wamp.session.list" => {
            let roles = a.roles_filter()?;
            let ids: Vec<Value> = realm
                .sessions
                .values()
                .filter(|s| {
                    roles
                        .as_ref()
                        .is_none_or(|r| r.contains(&s.authrole.as_str()))
                })
                .map(|s| Value::UInt(s.id.get()))
                .collect();
            if procedure == "wamp.session.count" {
                result(kind, Value::UInt(ids.len() as u64))
            } else {
                result(kind, Value::List(ids))
            }
        }
        "wamp.session.get" => {
            let id = a.id(0, "session")?;
            let details = SessionId::new(id)
                .and_then(|id| realm.sessions.get(&id))
                .map(|s| s.details())
                .ok_or_else(|| (NO_SUCH_SESSION, format!("no session {id} in this realm")))?;
            result(kind, Value::Map(details))
        }
        "wamp.session.kill" => {
            let id = a.id(0, "session")?;
            let (reason, message) = a.kill()?;
            // The spec: a session cannot kill itself through this; its own ID names no
            // *other* session.
            let target = SessionId::new(id)
                .filter(|id| *id != caller && realm.sessions.contains_key(id))
                .ok_or_else(|| {
                    (
                        NO_SUCH_SESSION,
                        format!("no other session {id} in this realm"),
                    )
                })?;
            ctx.kills.push(Kill {
                session: target,
                reason,
                message,
            });
            Ok(Payload::empty())
        }
        "wamp.session.kill_by_authid"
        | "wamp.session.kill_by_authrole"
        | "wamp.session.kill_all" => {
            let filter = match procedure {
                "wamp.session.kill_all" => None,
                "wamp.session.kill_by_authid" => Some((true, a.string(0, "authid")?.to_owned())),
                _ => Some((false, a.string(0, "authrole")?.to_owned())),
            };
            let (reason, message) = a.kill()?;
            let targets: Vec<SessionId> = realm
                .sessions
                .values()
                .filter(|s| s.id != caller)
                .filter(|s| match &filter {
                    None => true,
                    Some((true, authid)) => s.authid == *authid,
                    Some((false, authrole)) => s.authrole == *authrole,
                })
                .map(|s| s.id)
                .collect();
            let count = targets.len() as u64;
            for session in targets {
                ctx.kills.push(Kill {
                    session,
                    reason: reason.clone(),
                    message: message.clone(),
                });
            }
            result(kind, Value::UInt(count))
        }
        "wamp.session.add_testament" => add_testament(realm, caller, &a, ctx),
        "wamp.session.flush_testaments" => {
            let detached = a.detached()?;
            if let Some(me) = realm.sessions.get_mut(&caller) {
                me.testaments.retain(|t| t.detached != detached);
            }
            Ok(Payload::empty())
        }
        "wamp.registration.list" => result(kind, per_policy(realm.dealer.list())),
        "wamp.registration.lookup" => {
            let uri = a.string(0, "procedure URI")?;
            let policy = a.match_policy(1)?;
            result(
                kind,
                nullable(realm.dealer.lookup(uri, policy).map(|r| r.get())),
            )
        }
        "wamp.registration.match" => {
            let uri = a.string(0, "procedure URI")?;
            result(
                kind,
                nullable(realm.dealer.best_match(uri).map(|r| r.get())),
            )
        }
        "wamp.registration.get"
        | "wamp.registration.list_callees"
        | "wamp.registration.count_callees" => {
            let id = a.id(0, "registration")?;
            let reg = RegistrationId::new(id)
                .and_then(|id| realm.dealer.get(id))
                .ok_or_else(|| (Uri::NO_SUCH_REGISTRATION, format!("no registration {id}")))?;
            let callees: Vec<Value> = reg
                .callees
                .iter()
                .map(|c| Value::UInt(c.session.get()))
                .collect();
            match procedure {
                "wamp.registration.get" => result(kind, Value::Map(reg.details())),
                "wamp.registration.list_callees" => result(kind, Value::List(callees)),
                _ => result(kind, Value::UInt(callees.len() as u64)),
            }
        }
        "wamp.subscription.list" => result(kind, per_policy(realm.broker.list())),
        "wamp.subscription.lookup" => {
            let uri = a.string(0, "topic URI")?;
            let policy = a.match_policy(1)?;
            result(
                kind,
                nullable(realm.broker.lookup(uri, policy).map(|s| s.get())),
            )
        }
        "wamp.subscription.match" => {
            let uri = a.string(0, "topic URI")?;
            let matching = realm.broker.matching(uri);
            if matching.is_empty() {
                result(kind, Value::Null)
            } else {
                result(kind, ids(&matching))
            }
        }
        "wamp.subscription.get"
        | "wamp.subscription.list_subscribers"
        | "wamp.subscription.count_subscribers" => {
            let id = a.id(0, "subscription")?;
            let sub = SubscriptionId::new(id)
                .and_then(|id| realm.broker.get(id))
                .ok_or_else(|| (Uri::NO_SUCH_SUBSCRIPTION, format!("no subscription {id}")))?;
            let subscribers: Vec<Value> = sub
                .subscribers
                .iter()
                .map(|s| Value::UInt(s.get()))
                .collect();
            match procedure {
                "wamp.subscription.get" => result(kind, Value::Map(sub.details())),
                "wamp.subscription.list_subscribers" => result(kind, Value::List(subscribers)),
                _ => result(kind, Value::UInt(subscribers.len() as u64)),
            }
        }
        _ => Err((
            Uri::NO_SUCH_PROCEDURE,
            format!("no procedure {procedure}: the router serves no such meta procedure"),
        )),
    }
}

/// `wamp.session.add_testament(topic, args, kwargs, publish_options=, scope=)`.
fn add_testament(realm: &mut Realm, caller: SessionId, a: &Args, ctx: &mut Ctx<'_>) -> Outcome {
    let topic = a.string(0, "topic URI")?;
    let topic = Uri::parse(topic).map_err(|e| (Uri::INVALID_URI, e.to_string()))?;
    if topic.is_reserved() {
        return Err((
            Uri::INVALID_URI,
            format!("{topic} is reserved: only the router publishes to wamp. topics"),
        ));
    }
    let args = match a.args.get(1) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(l)) => l.clone(),
        Some(_) => {
            return Err(invalid(
                "argument 2 must be the event's positional arguments",
            ))
        }
    };
    let kwargs = match a.args.get(2) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Map(m)) => m.clone(),
        Some(_) => return Err(invalid("argument 3 must be the event's keyword arguments")),
    };
    let options = match a.kwargs.get("publish_options") {
        None | Some(Value::Null) => Dict::new(),
        Some(Value::Map(m)) => Dict::from(m.clone()),
        Some(_) => return Err(invalid("publish_options must be a dict")),
    };
    if let Err((key, why)) = options.check_known_keys() {
        return Err(invalid(format!("publish_options.{key} {why}")));
    }
    let detached = a.detached()?;
    let Some(me) = realm.sessions.get(&caller) else {
        return Err(invalid("the caller is gone"));
    };
    realm
        .authz
        .authorize(caller, &me.authrole, Action::Publish, &topic)
        .map_err(|why| (Uri::NOT_AUTHORIZED, why))?;
    if me.testaments.len() >= ctx.limits.max_testaments {
        return Err(invalid(format!(
            "session {caller} already has {} testaments, the most allowed",
            me.testaments.len()
        )));
    }
    let payload =
        Payload::encode(me.serializer, &args, &kwargs).map_err(|e| invalid(e.to_string()))?;
    if let Some(me) = realm.sessions.get_mut(&caller) {
        me.testaments.push(Testament {
            topic,
            payload,
            options,
            detached,
        });
    }
    Ok(Payload::empty())
}
