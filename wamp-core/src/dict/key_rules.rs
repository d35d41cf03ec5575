// The well-known Options/Details keys and the type each must have. Included (not a module)
// by `src/dict.rs`, which checks dictionaries against it, and by `tests/properties.rs`, whose
// model generates well- and ill-typed values from it, so the two cannot drift apart.

/// The type a well-known key must have.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Bool,
    Str,
    Uint,
    Id,
    IdList,
    StrList,
    Uri,
    Map,
    OneOf(&'static [&'static str]),
    /// One of the names, or an implementation-specific `x_...` name.
    OneOfOrCustom(&'static [&'static str]),
    /// Router-to-router `forward_for`: a list of `{session, authid, authrole}` maps.
    ForwardFor,
}

const SERIALIZER_NAMES: &[&str] = &["native", "json", "msgpack", "cbor", "ubjson", "flatbuffers"];

/// Types of the keys the spec and Autobahn define in Options/Details. Keys not listed are
/// carried without a check.
const KEY_RULES: &[(&str, Rule)] = &[
    ("acknowledge", Rule::Bool),
    ("exclude_me", Rule::Bool),
    ("disclose_me", Rule::Bool),
    ("retain", Rule::Bool),
    ("get_retained", Rule::Bool),
    ("retained", Rule::Bool),
    ("receive_progress", Rule::Bool),
    ("progress", Rule::Bool),
    ("disclose_caller", Rule::Bool),
    ("forward_timeout", Rule::Bool),
    ("x_acknowledged_delivery", Rule::Bool),
    ("exclude", Rule::IdList),
    ("eligible", Rule::IdList),
    ("exclude_authid", Rule::StrList),
    ("exclude_authrole", Rule::StrList),
    ("eligible_authid", Rule::StrList),
    ("eligible_authrole", Rule::StrList),
    ("authmethods", Rule::StrList),
    ("publisher", Rule::Id),
    ("caller", Rule::Id),
    ("publisher_authid", Rule::Str),
    ("publisher_authrole", Rule::Str),
    ("caller_authid", Rule::Str),
    ("caller_authrole", Rule::Str),
    ("authid", Rule::Str),
    ("authrole", Rule::Str),
    ("authmethod", Rule::Str),
    ("authprovider", Rule::Str),
    ("agent", Rule::Str),
    ("message", Rule::Str),
    ("transaction_hash", Rule::Str),
    ("rkey", Rule::Str),
    ("nkey", Rule::Str),
    ("topic", Rule::Uri),
    ("procedure", Rule::Uri),
    ("timeout", Rule::Uint),
    ("trustlevel", Rule::Uint),
    ("roles", Rule::Map),
    ("authextra", Rule::Map),
    ("match", Rule::OneOf(&["exact", "prefix", "wildcard"])),
    (
        "invoke",
        Rule::OneOf(&["single", "roundrobin", "random", "first", "last"]),
    ),
    ("mode", Rule::OneOf(&["skip", "kill", "killnowait"])),
    ("forward_for", Rule::ForwardFor),
    (
        "enc_algo",
        Rule::OneOfOrCustom(&["cryptobox", "mqtt", "xbr"]),
    ),
    ("enc_serializer", Rule::OneOfOrCustom(SERIALIZER_NAMES)),
    ("enc_key", Rule::Str),
    ("ppt_scheme", Rule::Str),
    ("ppt_serializer", Rule::OneOfOrCustom(SERIALIZER_NAMES)),
    (
        "ppt_cipher",
        Rule::OneOfOrCustom(&["xsalsa20poly1305", "aes256gcm"]),
    ),
    ("ppt_keyid", Rule::Str),
];
