//! The broker: subscriptions (exact, prefix, wildcard; one subscription per topic and
//! policy, shared by its subscribers), publications with exclusion, eligibility and
//! publisher disclosure, and retained events.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use wamp_proto::message::{self, Message, MessageType, Publish, Subscribe, Unsubscribe};
use wamp_proto::serializer::SerializerKind;
use wamp_proto::{
    Details, Dict, EncodeError, IdHashMap, Map, MatchPolicy, Options, Payload, PeerHashMap,
    PublicationId, SessionId, SubscriptionId, Uri, Value,
};

use super::authorizer::Action;
use super::meta::Testament;
use super::patterns::{pattern_details, Held, PatternIndex};
use super::realm::{Ctx, Inbound, Routed, SessionInfo, Sessions};

#[derive(Debug)]
pub(crate) struct Subscription {
    pub id: SubscriptionId,
    pub topic: Uri,
    pub policy: MatchPolicy,
    pub subscribers: BTreeSet<SessionId>,
}

impl Subscription {
    /// The subscription meta API's description of it.
    pub fn details(&self) -> Map {
        pattern_details(self.id.get(), &self.topic, self.policy)
    }
}

/// One publication, as retention, eligibility and disclosure see it.
struct Publication<'a> {
    id: PublicationId,
    topic: &'a Uri,
    options: &'a Options,
    /// Who published: none for the router's meta events.
    publisher: Option<&'a SessionInfo>,
    disclose: bool,
}

impl<'a> Publication<'a> {
    /// A publication under a new random ID.
    fn new(
        ctx: &mut Ctx<'_>,
        topic: &'a Uri,
        options: &'a Options,
        publisher: Option<&'a SessionInfo>,
        disclose: bool,
    ) -> Self {
        Publication {
            id: PublicationId(ctx.random_id()),
            topic,
            options,
            publisher,
            disclose,
        }
    }
}

/// A retained event: the last one published with `retain` on its topic.
#[derive(Debug)]
struct Retained {
    publication: PublicationId,
    payload: Payload,
    /// The publish options: the same exclusion and eligibility rules apply when it is
    /// delivered later.
    options: Options,
    publisher: Option<(SessionId, String, String)>,
    disclose: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Broker {
    subs: IdHashMap<SubscriptionId, Subscription>,
    patterns: PatternIndex<SubscriptionId>,
    retained: PeerHashMap<Uri, Retained>,
    /// Retained topics, oldest first (to forget the oldest beyond the limit).
    retained_order: VecDeque<Uri>,
    /// How many subscriptions each session holds.
    held: Held,
}

/// A payload converted at most once per serializer, for fan-out.
struct Converted {
    original: Payload,
    cache: [Option<Result<Payload, EncodeError>>; 3],
}

impl Converted {
    fn new(original: Payload) -> Self {
        Converted {
            original,
            cache: [None, None, None],
        }
    }

    fn get(&mut self, kind: SerializerKind) -> Result<&Payload, &EncodeError> {
        let slot = match kind {
            SerializerKind::Json => 0,
            SerializerKind::MsgPack => 1,
            SerializerKind::Cbor => 2,
        };
        let original = &self.original;
        self.cache[slot]
            .get_or_insert_with(|| original.to_format(kind))
            .as_ref()
    }
}

impl Broker {
    /// The subscription for exactly this topic and policy.
    pub fn lookup(&self, topic: &str, policy: MatchPolicy) -> Option<SubscriptionId> {
        self.patterns.lookup(topic, policy)
    }

    pub fn get(&self, id: SubscriptionId) -> Option<&Subscription> {
        self.subs.get(&id)
    }

    /// Subscription IDs per policy, sorted.
    pub fn list(&self) -> [Vec<SubscriptionId>; 3] {
        self.patterns.list()
    }

    /// Every subscription whose pattern matches `topic`, sorted by ID.
    pub fn matching(&self, topic: &str) -> Vec<SubscriptionId> {
        self.patterns.matching(topic)
    }

    pub fn subscribe(&mut self, req: Inbound<'_, Subscribe>, ctx: &mut Ctx<'_>) -> Routed {
        let (subscriber, msg) = (req.from, &req.msg);
        let session = subscriber.id;
        let policy = msg.options.match_policy().unwrap_or_default();
        if let Err(why) = req.authorize(Action::Subscribe, &msg.topic) {
            return req.refuse(ctx, Uri::NOT_AUTHORIZED, &why);
        }
        let existing = self.lookup(&msg.topic, policy);
        let holds = existing
            .and_then(|id| self.subs.get(&id))
            .is_some_and(|s| s.subscribers.contains(&session));
        if !holds {
            let limit = ctx.limits.max_subscriptions_per_session;
            if let Err(why) = self.held.room(session, limit, "subscriptions") {
                return req.refuse(ctx, Uri::UNAVAILABLE, &why);
            }
        }
        let (id, created) = match existing {
            Some(id) => (id, false),
            None => {
                let id = SubscriptionId(ctx.next_id());
                let sub = Subscription {
                    id,
                    topic: msg.topic.clone(),
                    policy,
                    subscribers: BTreeSet::new(),
                };
                self.patterns.insert(&msg.topic, policy, id);
                self.subs.insert(id, sub);
                (id, true)
            }
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return Ok(());
        };
        let added = sub.subscribers.insert(session);
        if added {
            self.held.add(session);
        }
        let details = sub.details();
        let _ = ctx.out.send(
            subscriber.conn,
            &Message::Subscribed(message::Subscribed {
                request: msg.request,
                subscription: id,
            }),
        );
        // Meta events about subscriptions to meta topics would only be noise.
        if !msg.topic.is_reserved() {
            if created {
                ctx.meta_event(
                    "wamp.subscription.on_create",
                    vec![Value::UInt(session.get()), Value::Map(details)],
                );
            }
            if added {
                ctx.meta_event(
                    "wamp.subscription.on_subscribe",
                    vec![Value::UInt(session.get()), Value::UInt(id.get())],
                );
            }
        }
        if msg.options.get_retained() == Some(true) {
            self.deliver_retained(subscriber, id, ctx);
        }
        Ok(())
    }

    /// Sends the retained events matching a new subscription (after SUBSCRIBED).
    fn deliver_retained(&self, subscriber: &SessionInfo, id: SubscriptionId, ctx: &mut Ctx<'_>) {
        let Some(sub) = self.subs.get(&id) else {
            return;
        };
        let mut topics: Vec<&Uri> = self
            .retained
            .keys()
            .filter(|t| sub.topic.matches(sub.policy, t))
            .collect();
        topics.sort();
        for topic in topics {
            let Some(r) = self.retained.get(topic) else {
                continue;
            };
            let publisher_id = r.publisher.as_ref().map(|p| p.0);
            if !eligible(subscriber, publisher_id, &r.options) {
                continue;
            }
            let mut details = Dict::new().with_retained(true);
            if sub.policy != MatchPolicy::Exact {
                details = details.with_topic(topic.as_str());
            }
            if let (true, Some((s, authid, authrole))) = (r.disclose, &r.publisher) {
                details = details
                    .with_publisher(*s)
                    .with_publisher_authid(authid.as_str())
                    .with_publisher_authrole(authrole.as_str());
            }
            let _ = ctx.out.send(
                subscriber.conn,
                &Message::Event(message::Event {
                    subscription: id,
                    publication: r.publication,
                    details,
                    payload: r.payload.clone(),
                }),
            );
        }
    }

    pub fn unsubscribe(&mut self, req: Inbound<'_, Unsubscribe>, ctx: &mut Ctx<'_>) -> Routed {
        let (subscriber, msg) = (req.from, &req.msg);
        let session = subscriber.id;
        let holds = self
            .subs
            .get(&msg.subscription)
            .is_some_and(|s| s.subscribers.contains(&session));
        if !holds {
            let why = format!(
                "session {session} holds no subscription {}",
                msg.subscription
            );
            return req.refuse(ctx, Uri::NO_SUCH_SUBSCRIPTION, &why);
        }
        self.detach(session, msg.subscription, ctx);
        let _ = ctx.out.send(
            subscriber.conn,
            &Message::Unsubscribed(message::Unsubscribed {
                request: Some(msg.request),
                details: Details::new(),
            }),
        );
        Ok(())
    }

    /// Removes a subscriber from a subscription (deleting it when it was the last).
    fn detach(&mut self, session: SessionId, id: SubscriptionId, ctx: &mut Ctx<'_>) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if !sub.subscribers.remove(&session) {
            return;
        }
        self.held.release(session);
        let quiet = sub.topic.is_reserved();
        if !quiet {
            ctx.meta_event(
                "wamp.subscription.on_unsubscribe",
                vec![Value::UInt(session.get()), Value::UInt(id.get())],
            );
        }
        if !sub.subscribers.is_empty() {
            return;
        }
        let (topic, policy) = (sub.topic.clone(), sub.policy);
        self.subs.remove(&id);
        self.patterns.remove(&topic, policy);
        if !quiet {
            ctx.meta_event(
                "wamp.subscription.on_delete",
                vec![Value::UInt(session.get()), Value::UInt(id.get())],
            );
        }
    }

    /// A leaving session's subscriptions go.
    pub fn remove_session(&mut self, session: SessionId, ctx: &mut Ctx<'_>) {
        let mut held: Vec<SubscriptionId> = self
            .subs
            .values()
            .filter(|s| s.subscribers.contains(&session))
            .map(|s| s.id)
            .collect();
        held.sort();
        for id in held {
            self.detach(session, id, ctx);
        }
    }

    pub fn publish(&mut self, req: Inbound<'_, Publish>, ctx: &mut Ctx<'_>) -> Routed {
        let publisher = req.from;
        let acknowledge = req.msg.options.acknowledge() == Some(true);
        // Without `acknowledge` the publisher expects no answer at all, and an ERROR for
        // a request it does not track would be a protocol violation on its side.
        let refuse = |ctx: &mut Ctx<'_>, error: Uri, why: &str| {
            if acknowledge {
                req.refuse(ctx, error, why)
            } else {
                Ok(())
            }
        };
        let msg = &req.msg;
        if msg.topic.is_reserved() {
            let why = format!(
                "{} is reserved: only the router publishes to wamp. topics",
                msg.topic
            );
            return refuse(ctx, Uri::INVALID_URI, &why);
        }
        let grant = match req.authorize(Action::Publish, &msg.topic) {
            Ok(grant) => grant,
            Err(why) => return refuse(ctx, Uri::NOT_AUTHORIZED, &why),
        };
        let disclose = msg.options.disclose_me() == Some(true) || grant.disclose_publisher;
        let message::Publish {
            request,
            options,
            topic,
            payload,
        } = req.msg;
        let event = Publication::new(ctx, &topic, &options, Some(publisher), disclose);
        if options.retain() == Some(true) {
            self.retain(&event, &payload, ctx.limits.max_retained_events);
        }
        let failed = self.deliver(req.sessions, &event, payload, ctx);
        if !acknowledge {
            return Ok(());
        }
        if let Some((kind, e)) = failed {
            let why = format!(
                "the event could not be converted for subscribers using {}: {e}",
                kind.name()
            );
            return send_error(
                ctx,
                publisher,
                MessageType::Publish,
                request,
                Uri::INVALID_ARGUMENT,
                &why,
            );
        }
        let _ = ctx.out.send(
            publisher.conn,
            &Message::Published(message::Published {
                request,
                publication: event.id,
            }),
        );
        Ok(())
    }

    /// Publishes a meta event (the router is the publisher).
    pub fn publish_meta(
        &mut self,
        sessions: &Sessions,
        topic: &Uri,
        payload: Payload,
        ctx: &mut Ctx<'_>,
    ) {
        let options = Options::new();
        let event = Publication::new(ctx, topic, &options, None, false);
        let _ = self.deliver(sessions, &event, payload, ctx);
    }

    /// Publishes a leaving session's testament (it is no longer among `sessions`).
    pub fn publish_testament(
        &mut self,
        sessions: &Sessions,
        owner: &SessionInfo,
        testament: Testament,
        ctx: &mut Ctx<'_>,
    ) {
        let disclose = testament.options.disclose_me() == Some(true);
        let (topic, options) = (&testament.topic, &testament.options);
        let event = Publication::new(ctx, topic, options, Some(owner), disclose);
        if testament.options.retain() == Some(true) {
            self.retain(&event, &testament.payload, ctx.limits.max_retained_events);
        }
        let _ = self.deliver(sessions, &event, testament.payload, ctx);
    }

    /// Keeps `event` as its topic's retained event.
    fn retain(&mut self, event: &Publication<'_>, payload: &Payload, limit: usize) {
        if limit == 0 {
            return;
        }
        let retained = Retained {
            publication: event.id,
            payload: payload.clone(),
            options: event.options.clone(),
            publisher: event
                .publisher
                .map(|p| (p.id, p.authid.clone(), p.authrole.clone())),
            disclose: event.disclose,
        };
        let topic = event.topic;
        if self.retained.insert(topic.clone(), retained).is_some() {
            return;
        }
        self.retained_order.push_back(topic.clone());
        while self.retained.len() > limit {
            let Some(oldest) = self.retained_order.pop_front() else {
                break;
            };
            self.retained.remove(&oldest);
        }
    }

    /// Sends EVENTs to every eligible subscriber of every matching subscription, in
    /// subscription then session order. Returns a conversion failure, if any subscriber
    /// could not be served.
    fn deliver(
        &self,
        sessions: &Sessions,
        event: &Publication<'_>,
        payload: Payload,
        ctx: &mut Ctx<'_>,
    ) -> Option<(SerializerKind, EncodeError)> {
        let Publication {
            id: publication,
            topic,
            options,
            ..
        } = *event;
        let mut payload = Converted::new(payload);
        let mut failure = None;
        let publisher_id = event.publisher.map(|s| s.id);
        for id in self.matching(topic) {
            let Some(sub) = self.subs.get(&id) else {
                continue;
            };
            let mut details = Dict::new();
            if sub.policy != MatchPolicy::Exact {
                details = details.with_topic(topic.as_str());
            }
            if let (true, Some(p)) = (event.disclose, event.publisher) {
                details = details
                    .with_publisher(p.id)
                    .with_publisher_authid(p.authid.as_str())
                    .with_publisher_authrole(p.authrole.as_str());
            }
            // Every subscriber of one subscription gets the same EVENT (the details
            // depend on the subscription and the publisher only), so it is encoded once
            // per serializer and the bytes are shared.
            let mut encoded: [Option<Bytes>; SerializerKind::ALL.len()] = Default::default();
            for subscriber in &sub.subscribers {
                let Some(target) = sessions.get(subscriber) else {
                    continue;
                };
                if !eligible(target, publisher_id, options) {
                    continue;
                }
                let slot = &mut encoded[serializer_slot(target.serializer)];
                if slot.is_none() {
                    let payload = match payload.get(target.serializer) {
                        Ok(p) => p.clone(),
                        Err(e) => {
                            failure.get_or_insert((target.serializer, e.clone()));
                            continue;
                        }
                    };
                    let event = Message::Event(message::Event {
                        subscription: id,
                        publication,
                        details: details.clone(),
                        payload,
                    });
                    match target.serializer.encode(&event) {
                        Ok(bytes) => *slot = Some(bytes),
                        Err(e) => {
                            failure.get_or_insert((target.serializer, e));
                            continue;
                        }
                    }
                }
                if let Some(bytes) = slot {
                    ctx.out.send_encoded(target.conn, bytes.clone());
                }
            }
        }
        failure
    }
}

/// Where a serializer's encoding goes in a per-serializer array.
fn serializer_slot(kind: SerializerKind) -> usize {
    match kind {
        SerializerKind::Json => 0,
        SerializerKind::MsgPack => 1,
        SerializerKind::Cbor => 2,
    }
}

/// Whether `target` may receive an event with these publish options: not the publisher
/// (unless `exclude_me` is false), in none of the exclude lists, in every eligible list
/// that is present.
fn eligible(target: &SessionInfo, publisher: Option<SessionId>, options: &Options) -> bool {
    if publisher == Some(target.id) && options.exclude_me() != Some(false) {
        return false;
    }
    if options.exclude().is_some_and(|l| l.contains(&target.id))
        || options
            .exclude_authid()
            .is_some_and(|l| l.contains(&target.authid.as_str()))
        || options
            .exclude_authrole()
            .is_some_and(|l| l.contains(&target.authrole.as_str()))
    {
        return false;
    }
    options.eligible().is_none_or(|l| l.contains(&target.id))
        && options
            .eligible_authid()
            .is_none_or(|l| l.contains(&target.authid.as_str()))
        && options
            .eligible_authrole()
            .is_none_or(|l| l.contains(&target.authrole.as_str()))
}

/// An ERROR for a request, with the message as its only argument.
pub(crate) fn send_error(
    ctx: &mut Ctx<'_>,
    to: &SessionInfo,
    request_type: MessageType,
    request: wamp_proto::RequestId,
    error: Uri,
    why: &str,
) -> Result<(), String> {
    let _ = ctx.out.send(
        to.conn,
        &Message::Error(message::Error {
            request_type,
            request,
            details: Details::new(),
            error,
            payload: Payload::encode_args(to.serializer, &(why,)).unwrap_or_default(),
        }),
    );
    Ok(())
}
