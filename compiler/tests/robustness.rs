//! The front end never panics: mutated and random sources go through `analyze` (parse,
//! resolve, check, lower) and the formatter, and must come back as diagnostics.
//!
//! Run longer with `PROPTEST_CASES=20000 cargo test -p tailor-compiler --test robustness`.

use proptest::prelude::*;
use tailor_compiler::{analyze, format, synth, SourceMap};

fn seed_sources() -> Vec<String> {
    let mut v: Vec<String> = synth::policy_set(200).into_iter().map(|(_, t)| t).collect();
    v.truncate(3);
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Swap(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("?".to_string()),
        Just("??".to_string()),
        Just("\"".to_string()),
        Just(".".to_string()),
        Just(",".to_string()),
        Just(" and ".to_string()),
        Just(" not ".to_string()),
        Just("segment ".to_string()),
        Just("\n}\n".to_string()),
        Just("@2026-02-30".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1e999".to_string()),
        Just("😀".to_string()),
        Just("é".to_string()),
        "[a-z_]{1,8}",
        "[ -~]{1,6}",
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), token).prop_map(|(a, s)| Mutation::Insert(a, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(s: &mut String, m: &Mutation) {
    match m {
        Mutation::Delete(a, n) => {
            let a = boundary(s, *a);
            let b = boundary(s, (a + n).min(s.len()));
            if b > a {
                s.replace_range(a..b, "");
            }
        }
        Mutation::Insert(a, t) => {
            let a = boundary(s, *a);
            s.insert_str(a, t);
        }
        Mutation::Swap(a, b) => {
            let (a, b) = (boundary(s, *a), boundary(s, *b));
            let (a, b) = (a.min(b), a.max(b));
            let first: String = s[a..].chars().take(1).collect();
            let second: String = s[b..].chars().take(1).collect();
            if b > a + first.len() && !first.is_empty() && !second.is_empty() {
                s.replace_range(b..b + second.len(), &first);
                s.replace_range(a..a + first.len(), &second);
            }
        }
        Mutation::Duplicate(a, n) => {
            let a = boundary(s, *a);
            let b = boundary(s, (a + n).min(s.len()));
            let piece = s[a..b].to_string();
            s.insert_str(b, &piece);
        }
    }
}

fn run(sources: &[String]) {
    let mut map = SourceMap::new();
    for (i, s) in sources.iter().enumerate() {
        map.add(format!("f{i}.policy"), s.clone());
    }
    let a = analyze(map);
    // Touch the results the way the CLI does.
    let _ = a.has_errors();
    for s in sources {
        let _ = format::format_source(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mutated_sources_never_panic(muts in proptest::collection::vec((0usize..3, mutation()), 1..8)) {
        let mut sources = seed_sources();
        for (i, m) in &muts {
            let idx = i % sources.len();
            apply(&mut sources[idx], m);
        }
        run(&sources);
    }

    #[test]
    fn random_text_never_panics(text in "[ -~\n\t]{0,400}") {
        run(&[format!("package p\n{text}"), text]);
    }
}
