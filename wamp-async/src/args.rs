//! Typed arguments collected by the request builders, encoded at once in the session's
//! serializer (so nothing is converted on the way out).

use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use wamp_proto::{serializer::SerializerKind, Payload};

use crate::error::Error;

/// Positional and keyword arguments under construction; the first failure is kept and
/// reported when the request is sent.
#[derive(Debug, Clone)]
pub(crate) struct ArgsBuilder {
    serializer: SerializerKind,
    args: Option<Bytes>,
    kwargs: Option<Bytes>,
    payload: Option<Payload>,
    error: Option<Error>,
}

impl ArgsBuilder {
    pub(crate) fn new(serializer: SerializerKind) -> Self {
        ArgsBuilder {
            serializer,
            args: None,
            kwargs: None,
            payload: None,
            error: None,
        }
    }

    pub(crate) fn args<A: Serialize + ?Sized>(&mut self, args: &A) {
        match Payload::encode_args(self.serializer, args) {
            Ok(p) => self.args = p.raw_args().cloned(),
            Err(e) => self.fail(e.into()),
        }
    }

    pub(crate) fn kwargs<K: Serialize + ?Sized>(&mut self, kwargs: &K) {
        match Payload::encode(self.serializer, &(), kwargs) {
            Ok(p) => self.kwargs = p.raw_kwargs().cloned(),
            Err(e) => self.fail(e.into()),
        }
    }

    pub(crate) fn payload(&mut self, payload: Payload) {
        self.payload = Some(payload);
    }

    pub(crate) fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    pub(crate) fn build(self) -> Result<Payload, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(payload) = self.payload {
            return Ok(payload);
        }
        if self.args.is_none() && self.kwargs.is_none() {
            return Ok(Payload::empty());
        }
        // The parts were encoded just above, each as one element of the right kind.
        Payload::from_encoded(self.serializer, self.args, self.kwargs).map_err(Error::Decode)
    }
}

/// Decodes the first element of a list and skips the rest.
pub(crate) fn first<T: DeserializeOwned>(payload: &Payload) -> Result<T, Error> {
    let First(value) = payload.args::<First<T>>()?;
    Ok(value)
}

struct First<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list with at least one element")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<First<T>, S::Error> {
                let value = seq
                    .next_element::<T>()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(value))
            }
        }
        deserializer.deserialize_seq(FirstVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_combination_in_the_session_format() {
        for serializer in SerializerKind::ALL {
            let mut b = ArgsBuilder::new(serializer);
            b.args(&(1, "two"));
            b.kwargs(&std::collections::BTreeMap::from([("k", 3)]));
            let p = b.build().expect("encodes");
            assert_eq!(p.format(), Some(serializer));
            assert_eq!(
                p.args::<(u8, String)>().expect("args"),
                (1, "two".to_owned())
            );
            assert_eq!(first::<u8>(&p).expect("first"), 1);
            let mut b = ArgsBuilder::new(serializer);
            b.kwargs(&std::collections::BTreeMap::from([("k", 3)]));
            let p = b.build().expect("encodes");
            assert!(p.raw_args().is_none());
            assert!(ArgsBuilder::new(serializer)
                .build()
                .expect("empty")
                .is_empty());
        }
    }

    #[test]
    fn the_first_failure_is_reported() {
        let mut b = ArgsBuilder::new(SerializerKind::Json);
        b.args(&5); // not a list
        b.args(&(1,));
        assert!(matches!(b.build(), Err(Error::Encode(_))));
        assert!(matches!(
            first::<u8>(&Payload::empty()),
            Err(Error::Decode(_))
        ));
    }
}
