//! Command-line arguments to WAMP values, and WAMP payloads to JSON output.
//!
//! Both directions use the WAMP binary convention for JSON: a string whose first
//! character is U+0000 followed by standard padded base64 is binary data. On input such
//! a string becomes a real binary value (so it travels as `bin`/`bytes` in MessagePack
//! and CBOR); on output binary values are printed that way, whatever the serializer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value as Json;
use wamp_tokio::wamp_proto::{Map, Payload, PayloadError, Value};

/// A command-line value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// `--kwargs` is not valid JSON.
    #[error("--kwargs is not valid JSON: {0}")]
    KwargsSyntax(String),
    /// `--kwargs` is JSON but not an object.
    #[error("--kwargs must be a JSON object ({{...}}), got {0}")]
    KwargsNotObject(&'static str),
}

/// Positional arguments: each is JSON when it parses as JSON, otherwise the text as a
/// string (so `1` is a number, `'"1"'` the string "1", and `hi` the string "hi").
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Vec<Value> {
    args.iter().map(|a| parse_arg(a.as_ref())).collect()
}

/// One positional argument; see [`parse_args`].
pub fn parse_arg(arg: &str) -> Value {
    match serde_json::from_str::<Json>(arg) {
        Ok(json) => from_json(json),
        Err(_) => Value::String(arg.to_owned()),
    }
}

/// Keyword arguments from `--kwargs`: a JSON object. Absent: none.
pub fn parse_kwargs(kwargs: Option<&str>) -> Result<Map, ArgError> {
    let Some(text) = kwargs else {
        return Ok(Map::new());
    };
    let json: Json =
        serde_json::from_str(text).map_err(|e| ArgError::KwargsSyntax(e.to_string()))?;
    match from_json(json) {
        Value::Map(map) => Ok(map),
        other => Err(ArgError::KwargsNotObject(other.kind())),
    }
}

/// A JSON value as a WAMP value; strings in the binary convention become binary.
pub fn from_json(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                // Not an integer in 64 bits: serde_json holds it as a float.
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => match decode_binary(&s) {
            Some(bytes) => Value::Bytes(bytes.into()),
            None => Value::String(s),
        },
        Json::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        Json::Object(map) => Value::Map(map.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

/// The bytes of a string in the binary convention, if it is one.
fn decode_binary(s: &str) -> Option<Vec<u8>> {
    let encoded = s.strip_prefix('\0')?;
    STANDARD.decode(encoded).ok()
}

/// A WAMP value as JSON: binary as `"\u0000"` + base64; non-finite floats (which JSON
/// cannot hold) as `null`.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        // `Json::from(f64)` is `null` for NaN and the infinities.
        Value::Float(f) => Json::from(*f),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(binary_string(b)),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

fn binary_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    s.push('\0');
    STANDARD.encode_string(bytes, &mut s);
    s
}

/// A payload as the JSON object `{"args":[...],"kwargs":{...}}`, always with both keys.
///
/// A transparent payload (payload passthru mode, end-to-end encryption) is one binary
/// element in place of the arguments on the wire, and is shown that way.
pub fn payload_json(payload: &Payload) -> Result<serde_json::Map<String, Json>, PayloadError> {
    let (args, kwargs) = match payload.transparent_bytes() {
        Some(bytes) => (vec![Value::Bytes(bytes.clone())], Map::new()),
        None => (payload.args_values()?, payload.kwargs_values()?),
    };
    let mut object = serde_json::Map::new();
    object.insert(
        "args".to_owned(),
        Json::Array(args.iter().map(to_json).collect()),
    );
    object.insert(
        "kwargs".to_owned(),
        Json::Object(
            kwargs
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    );
    Ok(object)
}

/// [`payload_json`] with one more string entry (`topic`, `procedure`), as one line.
pub fn payload_line(
    payload: &Payload,
    extra: Option<(&str, &str)>,
) -> Result<String, PayloadError> {
    let mut object = payload_json(payload)?;
    if let Some((key, value)) = extra {
        object.insert(key.to_owned(), Json::String(value.to_owned()));
    }
    Ok(Json::Object(object).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wamp_tokio::wamp_proto::serializer::SerializerKind;

    #[test]
    fn json_args_are_json_and_the_rest_strings() {
        let args = parse_args(&[
            "1",
            "\"1\"",
            "hi",
            "-2",
            "1.5",
            "true",
            "null",
            "[1,\"a\"]",
            "{\"k\":{}}",
        ]);
        assert_eq!(
            args,
            vec![
                Value::UInt(1),
                Value::String("1".into()),
                Value::String("hi".into()),
                Value::Int(-2),
                Value::Float(1.5),
                Value::Bool(true),
                Value::Null,
                Value::List(vec![Value::UInt(1), Value::String("a".into())]),
                Value::Map(Map::from([("k".to_owned(), Value::Map(Map::new()))])),
            ]
        );
        // Almost JSON is text: an unquoted word, a trailing comma, an empty argument.
        assert_eq!(
            parse_arg("hello world"),
            Value::String("hello world".into())
        );
        assert_eq!(parse_arg("[1,]"), Value::String("[1,]".into()));
        assert_eq!(parse_arg(""), Value::String(String::new()));
        assert_eq!(parse_arg("1e999"), Value::String("1e999".into()));
    }

    #[test]
    fn big_integers_keep_their_precision() {
        assert_eq!(parse_arg("18446744073709551615"), Value::UInt(u64::MAX));
        assert_eq!(parse_arg("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(
            parse_arg("18446744073709551616"),
            Value::Float(18446744073709551616.0)
        );
    }

    #[test]
    fn binary_convention_both_ways() {
        let bin = "\"\\u0000EOP/kFMHXFJvX8BtT+N82w==\"";
        let bytes = hex_bytes("10e3ff9053075c526f5fc06d4fe37cdb");
        assert_eq!(parse_arg(bin), Value::Bytes(bytes.clone().into()));
        assert_eq!(
            to_json(&Value::Bytes(bytes.into())).to_string(),
            bin,
            "binary prints in the \\u0000 + base64 convention"
        );
        // A NUL-prefixed string that is not base64 stays a string.
        assert_eq!(parse_arg("\"\\u0000!!\""), Value::String("\0!!".into()));
        assert_eq!(
            to_json(&Value::Bytes(Vec::new().into())),
            Json::String("\0".into())
        );
    }

    #[test]
    fn kwargs_must_be_an_object() {
        assert_eq!(parse_kwargs(None), Ok(Map::new()));
        let map = parse_kwargs(Some(r#"{"a":1,"b":"x"}"#)).expect("object");
        assert_eq!(map.get("a"), Some(&Value::UInt(1)));
        assert_eq!(map.get("b"), Some(&Value::String("x".into())));
        assert!(matches!(
            parse_kwargs(Some("[1]")),
            Err(ArgError::KwargsNotObject(_))
        ));
        assert!(matches!(
            parse_kwargs(Some("{a:1}")),
            Err(ArgError::KwargsSyntax(_))
        ));
        let err = parse_kwargs(Some("3")).expect_err("a number");
        assert!(err.to_string().contains("JSON object"), "{err}");
    }

    #[test]
    fn output_always_has_both_keys() {
        assert_eq!(
            payload_line(&Payload::empty(), None).expect("empty"),
            r#"{"args":[],"kwargs":{}}"#
        );
        for serializer in SerializerKind::ALL {
            let args = vec![
                Value::UInt(1),
                Value::Bytes(vec![0, 1].into()),
                Value::Float(f64::NAN),
            ];
            let kwargs = Map::from([
                ("z".to_owned(), Value::Int(-1)),
                ("a".to_owned(), Value::Null),
            ]);
            let mut payload = Payload::encode(serializer, &args, &kwargs).unwrap_or_default();
            if serializer == SerializerKind::Json {
                // JSON cannot carry NaN; the encoder refuses it.
                let args = &args[..2];
                payload = Payload::encode(serializer, &args, &kwargs).expect("encodes");
                assert_eq!(
                    payload_line(&payload, Some(("topic", "a.b"))).expect("decodes"),
                    r#"{"args":[1,"\u0000AAE="],"kwargs":{"a":null,"z":-1},"topic":"a.b"}"#
                );
                continue;
            }
            assert_eq!(
                payload_line(&payload, Some(("topic", "a.b"))).expect("decodes"),
                r#"{"args":[1,"\u0000AAE=",null],"kwargs":{"a":null,"z":-1},"topic":"a.b"}"#,
                "{serializer}"
            );
            let only_kwargs = Payload::encode(serializer, &(), &kwargs).expect("encodes");
            assert_eq!(
                payload_line(&only_kwargs, None).expect("decodes"),
                r#"{"args":[],"kwargs":{"a":null,"z":-1}}"#
            );
        }
    }

    #[test]
    fn a_transparent_payload_prints_as_one_binary_argument() {
        let payload = Payload::transparent(vec![255u8].into());
        assert_eq!(
            payload_line(&payload, None).expect("shown"),
            r#"{"args":["\u0000/w=="],"kwargs":{}}"#
        );
    }

    #[test]
    fn values_round_trip_through_the_wire_formats() {
        let args = parse_args(&[
            "1",
            "-1",
            "\"\\u0000AAE=\"",
            "{\"k\":[true,null,2.5]}",
            "text",
        ]);
        for serializer in SerializerKind::ALL {
            let payload = Payload::encode(serializer, &args, &Map::new()).expect("encodes");
            assert_eq!(
                payload.args_values().expect("decodes"),
                args,
                "{serializer}"
            );
        }
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    }
}
