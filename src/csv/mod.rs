//! Reading OneRoster CSV bundles: ZIP or folder, manifest, encodings, profile detection.
//! Pure: no database.

pub mod bundle;
pub mod decode;
pub mod limits;
pub mod manifest;
pub mod profile;
pub mod sheet;

pub use bundle::Bundle;
pub use decode::EncodingChoice;
pub use profile::Profile;
