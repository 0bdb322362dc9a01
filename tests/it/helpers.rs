//! The test harness every test file uses:
//! - `db`: a fresh database on either backend (`TestDb`), and [`on_both_backends!`] to run a
//!   test on SQLite and on PostgreSQL;
//! - `bundles`: the fixtures, copies of them to edit, ZIP files;
//! - [`cli`]: the `rosterhub` binary, run to its end or as a `rosterhub serve` process;
//! - [`tokens`]: an API client of a tenant and a token for it.
//!
//! The server in this process, on a real socket, is `crate::server`.

mod bundles;
pub mod cli;
mod db;
pub mod tokens;

pub use bundles::{TempBundle, fixtures, read_zip};
pub use db::{Backend, TestDb, bulk, counts, errors, opts};

/// Runs a conformance test on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::helpers::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::helpers::Backend::Postgres) } )*
        }
    };
}
