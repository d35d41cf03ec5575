//! The crate's small code-writing macros: builders' argument setters, received
//! messages' payload decoders, and `Debug` impls over chosen fields.

/// The argument setters of a builder that keeps an `ArgsBuilder` in `self.args`, with
/// their docs.
macro_rules! args_setters {
    ($args:literal, $kwargs:literal) => {
        #[doc = $args]
        pub fn args<A: serde::Serialize + ?Sized>(mut self, args: &A) -> Self {
            self.args.args(args);
            self
        }

        #[doc = $kwargs]
        pub fn kwargs<K: serde::Serialize + ?Sized>(mut self, kwargs: &K) -> Self {
            self.args.kwargs(kwargs);
            self
        }

        /// Sets already encoded arguments (replacing `args` and `kwargs`).
        pub fn payload(mut self, payload: wamp_proto::Payload) -> Self {
            self.args.payload(payload);
            self
        }
    };
}

/// The decoders of a received message that keeps its arguments in `self.payload`, with
/// their docs.
macro_rules! payload_decoders {
    ($args:literal, $kwargs:literal, $first:literal) => {
        #[doc = $args]
        pub fn args<A: serde::de::DeserializeOwned>(&self) -> Result<A, $crate::Error> {
            Ok(self.payload.args()?)
        }

        #[doc = $kwargs]
        pub fn kwargs<K: serde::de::DeserializeOwned>(&self) -> Result<K, $crate::Error> {
            Ok(self.payload.kwargs()?)
        }

        #[doc = $first]
        pub fn first<T: serde::de::DeserializeOwned>(&self) -> Result<T, $crate::Error> {
            $crate::args::first(&self.payload)
        }
    };
}

/// `Debug` showing the named fields only (the others are handles, channels or
/// builders); a trailing `..` prints the struct as non-exhaustive.
macro_rules! debug_fields {
    ($ty:ident { $($field:ident),* }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish()
            }
        }
    };
    ($ty:ident { $($field:ident,)* .. }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}
