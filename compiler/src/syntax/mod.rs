//! The syntax stage: source text to [`ast::File`].
//!
//! Three layers, each doing what the next cannot: [`lexer`] (logos) tokenizes the whole file,
//! reports lexical errors and finds declaration boundaries; `grammar.pest` is the grammar of
//! one declaration; [`parser`] runs pest on each declaration separately, turns pest's tree into
//! the [`ast`] (applying operator precedence and decoding literals) and pest's failures into
//! diagnostics people can act on. One broken declaration never hides the rest of the file.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use parser::parse_file;

#[cfg(test)]
mod tests;
