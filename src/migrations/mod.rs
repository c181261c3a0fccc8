//! Migration files: listing, parsing, declarations and the chain.

pub mod chain;
pub mod declaration;
pub mod parser;
