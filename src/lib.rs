//! mimeinject: adds attachments to mail at the moment it is delivered.
//!
//! (Crate documentation is written with the core.)
#![deny(missing_docs)]

pub mod encode;
pub mod headers;
pub mod params;
pub mod sign;
pub mod source;
