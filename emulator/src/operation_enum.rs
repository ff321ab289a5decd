//! The one macro that declares an API's operations as an enum (Detective's in [`crate::routes`],
//! Organizations' in [`crate::organizations_api`], STS's and IAM's actions in [`crate::sts`] and
//! [`crate::iam_api`]), so all answer to the same names: `ALL`,
//! `name()` as in the API reference, and `from_name()`, which fault matching relies on.

/// Declares a `Copy` enum of operations with `ALL`, `name()` and `from_name()`.
///
/// With `=> fn method(self) -> Type { Operation => value, ... }` in place of a plain list of
/// names, each operation also carries a value of that type, answered by `method` (private to
/// the declaring module): the operations and what is known of each stay one table.
macro_rules! operations {
    (
        $(#[$meta:meta])*
        $vis:vis enum $enum:ident { $($name:ident,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $enum {
            $($name,)*
        }

        impl $enum {
            pub const ALL: &'static [$enum] = &[$($enum::$name,)*];

            /// The operation name as in the API reference (`CreateMembers`).
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$name => stringify!($name),)*
                }
            }

            pub fn from_name(name: &str) -> Option<$enum> {
                $enum::ALL.iter().copied().find(|operation| operation.name() == name)
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $enum:ident =>
        $(#[$method_meta:meta])*
        fn $method:ident(self) -> $type:ty { $($name:ident => $value:expr,)* }
    ) => {
        $crate::operation_enum::operations! {
            $(#[$meta])*
            $vis enum $enum { $($name,)* }
        }

        impl $enum {
            $(#[$method_meta])*
            fn $method(self) -> $type {
                match self {
                    $($enum::$name => $value,)*
                }
            }
        }
    };
}

pub(crate) use operations;
