//! Reading OneRoster CSV bundles: ZIP or folder, manifest, encodings, profile detection, and
//! the national models (targets) layered on the Japan Profile.
//! Pure: no database.

pub mod bundle;
pub mod decode;
pub mod limits;
pub mod manifest;
pub mod profile;
pub mod sheet;
pub mod target;

pub use bundle::Bundle;
pub use decode::EncodingChoice;
pub use profile::Profile;
