//! String interning: every string the JIT sees is a symbol (a `u32` index), so string equality
//! in compiled code is one integer compare.
//!
//! Symbols are unique per content within one chain of tables: a [`Interner`] of the bundle
//! (string literals and strings built by constants), cloned and extended once per prepared
//! catalog (the offers' strings), and extended per request by an [`Overlay`] (the profile's
//! strings and strings built while evaluating). A string is looked up in the lower tables before
//! it gets a new symbol in the upper one, so two equal strings always have one symbol.
//!
//! Orderings (`<` on strings) and the string functions go through the text, which helpers read
//! back with [`Overlay::text`].

use std::collections::HashMap;
use std::sync::Arc;

/// A string's symbol.
pub type Symbol = u32;

/// A frozen-after-building table of strings.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    map: HashMap<Arc<str>, Symbol>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The symbol of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> Symbol {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = self.strings.len() as Symbol;
        let text: Arc<str> = Arc::from(s);
        self.strings.push(text.clone());
        self.map.insert(text, sym);
        sym
    }

    /// The symbol of `s`, if it has one.
    pub fn get(&self, s: &str) -> Option<Symbol> {
        self.map.get(s).copied()
    }

    /// The text of a symbol.
    pub fn text(&self, sym: Symbol) -> Option<&str> {
        self.strings.get(sym as usize).map(|s| &**s)
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Adds an overlay's strings (from [`Overlay::into_extra`]), keeping their symbols: the
    /// overlay must have sat on this very table.
    pub fn absorb(&mut self, extra: Vec<Arc<str>>) {
        for s in extra {
            self.intern(&s);
        }
    }
}

/// A per-request extension of an [`Interner`].
#[derive(Debug)]
pub struct Overlay<'a> {
    base: &'a Interner,
    map: HashMap<Arc<str>, Symbol>,
    extra: Vec<Arc<str>>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a Interner) -> Overlay<'a> {
        Overlay {
            base,
            map: HashMap::new(),
            extra: Vec::new(),
        }
    }

    /// The symbol of `s`: the base table's, or a new one above it.
    pub fn intern(&mut self, s: &str) -> Symbol {
        if let Some(sym) = self.base.get(s) {
            return sym;
        }
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = (self.base.len() + self.extra.len()) as Symbol;
        let text: Arc<str> = Arc::from(s);
        self.extra.push(text.clone());
        self.map.insert(text, sym);
        sym
    }

    /// The strings this overlay added, in symbol order.
    pub fn into_extra(self) -> Vec<Arc<str>> {
        self.extra
    }

    /// The text of a symbol of this overlay or its base. Unknown symbols (which compiled code
    /// never produces) read as the empty string.
    pub fn text(&self, sym: Symbol) -> &str {
        let base = self.base.len();
        match (sym as usize).checked_sub(base) {
            None => self.base.text(sym).unwrap_or(""),
            Some(i) => self.extra.get(i).map(|s| &**s).unwrap_or(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_a_symbol_across_layers() {
        let mut base = Interner::new();
        let a = base.intern("a");
        assert_eq!(base.intern("a"), a);
        let mut o = Overlay::new(&base);
        assert_eq!(o.intern("a"), a);
        let b = o.intern("b");
        assert_ne!(a, b);
        assert_eq!(o.intern("b"), b);
        assert_eq!(o.text(b), "b");
        assert_eq!(o.text(a), "a");
        assert_eq!(o.text(999), "");
        let mut base2 = base.clone();
        base2.absorb(o.into_extra());
        assert_eq!(base2.get("b"), Some(b));
    }
}
