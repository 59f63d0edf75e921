//! One semantics: random well-typed programs and random inputs, run on the interpreter and on
//! the JIT, must give identical results — the same `DecisionOutcome` (chosen offers, scores to
//! the bit, applied boosts, which rule removed each candidate, caps, fallback, variant) and the
//! same `EligibilityReport`, or the same error.
//!
//! Each case draws a seed; the generator builds a bundle from it (a schema with every kind of
//! field, constants, segments, functions, `first`/`unique`/`collect` tables, an experiment with
//! a holdout (in a layer slice or not), two eligibility blocks, a ranking with boosts and a decision) whose expressions
//! cover every IR construct: literals, fields, optionals (`exists`, `??`, `if let`), all
//! operators on every type they apply to (with values chosen to hit saturation, division by
//! zero, NaN and signed zeros), quantifiers, collection and record literals, `with`, every
//! built-in, calls to functions, tables, eligibility blocks and rankings, segments, constants
//! and `is`. Then it runs the decision and both eligibility blocks for random profiles and
//! offers (including edge values and requests without a profile).
//!
//! CI runs `PROPTEST_CASES` cases (default 1,024 here). To run it longer:
//! `PROPTEST_CASES=5000 cargo test -p tailor-compiler --release --test jit_agreement`.

use proptest::prelude::*;
use tailor_compiler::interp::{value_from_json, Env, Impression, TraceLevel};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, CompileOptions, SourceMap};

/// A small deterministic generator (splitmix64), so a failing seed reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    Bool,
    Int,
    Float,
    Str,
    Dur,
    Ts,
    Tier,
    OptInt,
    OptFloat,
    OptStr,
    SetStr,
    SetTier,
    ListInt,
    SetFloat,
    ListFloat,
    Pair,
    ListPair,
}

/// Fields shared by `Profile` and `Offer`, with their types.
const FIELDS: &[(&str, T)] = &[
    ("i", T::Int),
    ("j", T::Int),
    ("f", T::Float),
    ("g", T::Float),
    ("s", T::Str),
    ("b", T::Bool),
    ("d", T::Dur),
    ("t", T::Ts),
    ("e", T::Tier),
    ("oi", T::OptInt),
    ("of", T::OptFloat),
    ("os", T::OptStr),
    ("ss", T::SetStr),
    ("se", T::SetTier),
    ("li", T::ListInt),
    ("sf", T::SetFloat),
    ("lf", T::ListFloat),
    ("p", T::Pair),
];

const SCHEMA: &str = r#"package gen

enum Tier { Bronze, Silver, Gold }

schema Pair { a: Int, b: String? }

schema Profile {
  i: Int
  j: Int
  f: Float
  g: Float
  s: String
  b: Bool
  d: Duration
  t: Timestamp
  e: Tier
  oi: Int?
  of: Float?
  os: String?
  ss: Set<String>
  se: Set<Tier>
  li: List<Int>
  sf: Set<Float>
  lf: List<Float>
  p: Pair
}

schema Offer {
  id: String
  i: Int
  j: Int
  f: Float
  g: Float
  s: String
  b: Bool
  d: Duration
  t: Timestamp
  e: Tier
  oi: Int?
  of: Float?
  os: String?
  ss: Set<String>
  se: Set<Tier>
  li: List<Int>
  sf: Set<Float>
  lf: List<Float>
  p: Pair
  ch: Set<Channel>
}
"#;

/// What an expression may refer to.
#[derive(Clone)]
struct Scope {
    /// Locals in scope.
    locals: Vec<(String, T)>,
    /// May read `profile`, `context`, `now()`, `subject_id()`.
    request: bool,
    /// Segments that may be referenced.
    segments: usize,
    /// Which callables may be called: 0 none, 1 tables, 2 + functions, 3 + ranking, 4 + eligibility `el2`.
    calls: u8,
    /// May test the experiment.
    experiment: bool,
}

struct Gen {
    rng: Rng,
    fresh: usize,
}

const STRS: &[&str] = &["\"\"", "\"a\"", "\"b\"", "\"ab\"", "\"DE\"", "\"A b \"", "\"é\""];

impl Gen {
    fn var(&mut self) -> String {
        self.fresh += 1;
        format!("v{}", self.fresh)
    }

    fn lit(&mut self, t: T) -> String {
        let r = &mut self.rng;
        match t {
            T::Bool => r.pick(&["true", "false"]).to_string(),
            T::Int => r
                .pick(&[
                    "0",
                    "1",
                    "2",
                    "-1",
                    "7",
                    "-13",
                    "9223372036854775807",
                    "4611686018427387904",
                    "1_000",
                ])
                .to_string(),
            T::Float => r
                .pick(&["0.0", "1.5", "-2.25", "0.1", "1000000000000.0", "3.0", "(-0.0)"])
                .to_string(),
            T::Str => r.pick(STRS).to_string(),
            T::Dur => r.pick(&["0ms", "15m", "1d", "90m", "(-2h)", "500ms"]).to_string(),
            T::Ts => r
                .pick(&[
                    "@2026-01-01",
                    "@2026-11-24T10:30:00Z",
                    "@1969-12-31T23:00:00Z",
                    "@2027-03-01",
                ])
                .to_string(),
            T::Tier => r.pick(&["Tier.Bronze", "Tier.Silver", "Tier.Gold"]).to_string(),
            T::OptInt => self.lit(T::Int),
            T::OptFloat => self.lit(T::Float),
            T::OptStr => self.lit(T::Str),
            T::SetStr => "c_set".into(),
            T::SetTier => "c_se".into(),
            T::SetFloat => "c_sf".into(),
            T::ListInt => format!("[{}, {}]", self.lit(T::Int), self.lit(T::Int)),
            T::ListFloat => format!("[{}, {}]", self.lit(T::Float), self.lit(T::Float)),
            T::Pair => "c_pair".into(),
            T::ListPair => "[c_pair]".into(),
        }
    }

    fn leaf(&mut self, t: T, sc: &Scope) -> String {
        let mut options: Vec<String> = Vec::new();
        for (name, lt) in &sc.locals {
            if *lt == t && !name.starts_with("__offer:") {
                options.push(name.clone());
            }
        }
        if sc.request {
            for (f, ft) in FIELDS {
                if *ft == t {
                    options.push(format!("profile.{f}"));
                }
            }
        }
        for (name, lt) in &sc.locals {
            if *lt == T::Pair && t == T::Int {
                options.push(format!("{name}.a"));
            }
            if *lt == T::Pair && t == T::OptStr {
                options.push(format!("{name}.b"));
            }
        }
        // Offer locals are written `o:` in the locals list with type Pair? No: offers are
        // recorded separately as `offer` locals.
        for (name, lt) in &sc.locals {
            if *lt == T::Bool && name.starts_with("__offer:") {
                let o = &name["__offer:".len()..];
                for (f, ft) in FIELDS {
                    if *ft == t {
                        options.push(format!("{o}.{f}"));
                    }
                }
            }
        }
        if options.is_empty() || self.rng.chance(30) {
            self.lit(t)
        } else {
            self.rng.pick(&options).clone()
        }
    }

    fn offer(&self, sc: &Scope) -> Option<String> {
        sc.locals
            .iter()
            .find(|(n, _)| n.starts_with("__offer:"))
            .map(|(n, _)| n["__offer:".len()..].to_string())
    }

    fn expr(&mut self, t: T, depth: usize, sc: &Scope) -> String {
        if depth == 0 || self.rng.chance(25) {
            return self.leaf(t, sc);
        }
        let d = depth - 1;
        // Optionals and collection literals only where their type is known from context.
        let optional = matches!(
            t,
            T::OptInt
                | T::OptFloat
                | T::OptStr
                | T::ListInt
                | T::ListFloat
                | T::ListPair
                | T::SetStr
                | T::SetTier
                | T::SetFloat
        );
        let choice = if optional { 99 } else { self.rng.below(16) };
        // Forms common to every type.
        if choice == 0 {
            let c = self.expr(T::Bool, d, sc);
            let a = self.expr(t, d, sc);
            let b = self.expr(t, d, sc);
            return format!("(if {c} then {a} else {b})");
        }
        if choice == 1 {
            let (opt, inner) = match t {
                T::Int | T::Bool => (T::OptInt, T::Int),
                T::Float => (T::OptFloat, T::Float),
                _ => (T::OptStr, T::Str),
            };
            let v = self.var();
            let o = self.expr(opt, d, sc);
            let mut inner_sc = sc.clone();
            inner_sc.locals.push((v.clone(), inner));
            let a = self.expr(t, d, &inner_sc);
            let b = self.expr(t, d, sc);
            return format!("(if let {v} = {o} then {a} else {b})");
        }
        match t {
            T::Bool => self.bool_expr(d, sc),
            T::Int => self.int_expr(d, sc),
            T::Float => self.float_expr(d, sc),
            T::Str => match self.rng.below(7) {
                0 => format!("lower({})", self.expr(T::Str, d, sc)),
                1 => format!("upper({})", self.expr(T::Str, d, sc)),
                2 => format!("trim({})", self.expr(T::Str, d, sc)),
                3 => format!("({} + {})", self.expr(T::Str, d, sc), self.expr(T::Str, d, sc)),
                4 => format!("({} ?? {})", self.expr(T::OptStr, d, sc), self.expr(T::Str, d, sc)),
                5 if sc.request => "subject_id()".to_string(),
                _ => self.leaf(T::Str, sc),
            },
            T::Dur => match self.rng.below(7) {
                0 => format!("({} + {})", self.expr(T::Dur, d, sc), self.expr(T::Dur, d, sc)),
                1 => format!("({} - {})", self.expr(T::Dur, d, sc), self.expr(T::Dur, d, sc)),
                2 => format!("({} * {})", self.expr(T::Dur, d, sc), self.expr(T::Int, d, sc)),
                3 => format!("({} / {})", self.expr(T::Dur, d, sc), self.expr(T::Int, d, sc)),
                4 => format!("({} - {})", self.expr(T::Ts, d, sc), self.expr(T::Ts, d, sc)),
                5 => format!("abs({})", self.expr(T::Dur, d, sc)),
                _ => format!("min({}, {})", self.expr(T::Dur, d, sc), self.expr(T::Dur, d, sc)),
            },
            T::Ts => match self.rng.below(5) {
                0 => format!("({} + {})", self.expr(T::Ts, d, sc), self.expr(T::Dur, d, sc)),
                1 => format!("({} - {})", self.expr(T::Ts, d, sc), self.expr(T::Dur, d, sc)),
                2 => format!("max({}, {})", self.expr(T::Ts, d, sc), self.expr(T::Ts, d, sc)),
                3 if sc.request => "now()".to_string(),
                _ => self.leaf(T::Ts, sc),
            },
            T::OptInt => match self.rng.below(3) {
                0 => self.expr(T::Int, d, sc),
                1 if sc.calls >= 2 && self.offer(sc).is_some() => {
                    let o = self.offer(sc).unwrap_or_default();
                    format!("f_opt({o})")
                }
                _ => self.leaf(T::OptInt, sc),
            },
            T::OptFloat => match self.rng.below(2) {
                0 => self.expr(T::Float, d, sc),
                _ => self.leaf(T::OptFloat, sc),
            },
            T::OptStr => match self.rng.below(2) {
                0 => self.expr(T::Str, d, sc),
                _ => self.leaf(T::OptStr, sc),
            },
            T::ListInt => match self.rng.below(3) {
                0 => format!("[{}, {}]", self.expr(T::Int, d, sc), self.expr(T::Int, d, sc)),
                1 if sc.calls >= 1 && self.offer(sc).is_some() => {
                    let o = self.offer(sc).unwrap_or_default();
                    format!("t_collect({o})")
                }
                _ => self.leaf(T::ListInt, sc),
            },
            T::ListFloat => match self.rng.below(2) {
                0 => format!(
                    "[{}, {}, {}]",
                    self.expr(T::Float, d, sc),
                    self.expr(T::Float, d, sc),
                    self.expr(T::Float, d, sc)
                ),
                _ => self.leaf(T::ListFloat, sc),
            },
            T::Pair => match self.rng.below(4) {
                0 => format!(
                    "Pair {{ a: {}, b: {} }}",
                    self.expr(T::Int, d, sc),
                    self.expr(T::Str, d, sc)
                ),
                1 => format!("Pair {{ a: {} }}", self.expr(T::Int, d, sc)),
                2 => format!(
                    "({} with {{ a: {} }})",
                    self.expr(T::Pair, d, sc),
                    self.expr(T::Int, d, sc)
                ),
                _ => {
                    if self.rng.chance(30) {
                        "c_pair".to_string()
                    } else {
                        self.leaf(T::Pair, sc)
                    }
                }
            },
            T::ListPair => format!("[{}, {}]", self.expr(T::Pair, d, sc), self.expr(T::Pair, d, sc)),
            T::SetStr => {
                if self.rng.chance(40) {
                    "c_set".to_string()
                } else {
                    self.leaf(T::SetStr, sc)
                }
            }
            _ => self.leaf(t, sc),
        }
    }

    fn compare_any(&mut self, d: usize, sc: &Scope) -> String {
        let t = *self.rng.pick(&[T::Int, T::Float, T::Str, T::Dur, T::Ts]);
        let op = self.rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
        format!("({} {op} {})", self.expr(t, d, sc), self.expr(t, d, sc))
    }

    fn bool_expr(&mut self, d: usize, sc: &Scope) -> String {
        match self.rng.below(22) {
            0 => format!("({} and {})", self.expr(T::Bool, d, sc), self.expr(T::Bool, d, sc)),
            1 => format!("({} or {})", self.expr(T::Bool, d, sc), self.expr(T::Bool, d, sc)),
            2 => format!("(not {})", self.expr(T::Bool, d, sc)),
            3 | 4 => self.compare_any(d, sc),
            5 => {
                let t = *self.rng.pick(&[
                    T::Pair,
                    T::ListInt,
                    T::SetFloat,
                    T::Tier,
                    T::Bool,
                    T::ListPair,
                    T::SetStr,
                ]);
                let op = self.rng.pick(&["==", "!="]);
                format!("({} {op} {})", self.expr(t, d, sc), self.expr(t, d, sc))
            }
            6 => {
                let (e, c) = *self.rng.pick(&[
                    (T::Str, T::SetStr),
                    (T::Int, T::ListInt),
                    (T::Tier, T::SetTier),
                    (T::Float, T::SetFloat),
                    (T::Float, T::ListFloat),
                    (T::Pair, T::ListPair),
                ]);
                format!("({} in {})", self.expr(e, d, sc), self.expr(c, d, sc))
            }
            7 => format!(
                "({} in [{}, {}])",
                self.expr(T::Str, d, sc),
                self.lit(T::Str),
                self.expr(T::Str, d, sc)
            ),
            8 => format!("({} contains {})", self.expr(T::Str, d, sc), self.expr(T::Str, d, sc)),
            9 => {
                let t = *self.rng.pick(&[T::OptInt, T::OptFloat, T::OptStr]);
                format!("(exists {})", self.expr(t, d, sc))
            }
            10 => {
                let f = self.rng.pick(&["starts_with", "ends_with"]);
                format!("{f}({}, {})", self.expr(T::Str, d, sc), self.expr(T::Str, d, sc))
            }
            11 => {
                let t = *self.rng.pick(&[T::SetStr, T::ListInt, T::Str, T::SetFloat]);
                format!("is_empty({})", self.expr(t, d, sc))
            }
            12 => {
                let (a, b) = *self.rng.pick(&[
                    (T::SetStr, T::SetStr),
                    (T::ListInt, T::ListInt),
                    (T::SetFloat, T::ListFloat),
                    (T::ListFloat, T::SetFloat),
                ]);
                format!("intersects({}, {})", self.expr(a, d, sc), self.expr(b, d, sc))
            }
            13 | 14 => {
                let q = self.rng.pick(&["any", "all"]);
                let (c, e) = *self.rng.pick(&[
                    (T::SetStr, T::Str),
                    (T::ListInt, T::Int),
                    (T::SetFloat, T::Float),
                    (T::SetTier, T::Tier),
                    (T::ListPair, T::Pair),
                ]);
                let v = self.var();
                let coll = self.expr(c, d, sc);
                let mut inner = sc.clone();
                inner.locals.push((v.clone(), e));
                let body = self.expr(T::Bool, d, &inner);
                format!("({q} {v} in {coll}: {body})")
            }
            15 if sc.segments > 0 => format!("seg{}", self.rng.below(sc.segments)),
            16 if sc.experiment => format!("exp is {}", self.rng.pick(&["control", "treatment", "holdout"])),
            17 if sc.calls >= 4 && self.offer(sc).is_some() => format!("el2({})", self.offer(sc).unwrap_or_default()),
            18 if sc.calls >= 2 && self.offer(sc).is_some() => {
                format!("f_bool({})", self.offer(sc).unwrap_or_default())
            }
            19 if sc.request => "(context.channel in [Channel.Web, Channel.Email])".to_string(),
            20 if self.offer(sc).is_some() => format!("(context.channel in {}.ch)", self.offer(sc).unwrap_or_default()),
            _ => self.leaf(T::Bool, sc),
        }
    }

    fn int_expr(&mut self, d: usize, sc: &Scope) -> String {
        match self.rng.below(24) {
            0..=4 => {
                let op = self.rng.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.expr(T::Int, d, sc), self.expr(T::Int, d, sc))
            }
            5 => format!("(-{})", self.expr(T::Int, d, sc)),
            6 => format!("abs({})", self.expr(T::Int, d, sc)),
            7 => format!(
                "{}({}, {})",
                self.rng.pick(&["min", "max"]),
                self.expr(T::Int, d, sc),
                self.expr(T::Int, d, sc)
            ),
            8 => format!(
                "clamp({}, {}, {})",
                self.expr(T::Int, d, sc),
                self.expr(T::Int, d, sc),
                self.expr(T::Int, d, sc)
            ),
            9 => format!(
                "{}({})",
                self.rng.pick(&["round", "floor", "ceil"]),
                self.expr(T::Float, d, sc)
            ),
            10 => {
                let t = *self.rng.pick(&[T::Str, T::SetStr, T::ListInt, T::ListPair]);
                format!("len({})", self.expr(t, d, sc))
            }
            11 => {
                let v = self.var();
                let coll = self.expr(T::ListInt, d, sc);
                let mut inner = sc.clone();
                inner.locals.push((v.clone(), T::Int));
                let body = self.expr(T::Bool, d, &inner);
                format!("(count {v} in {coll}: {body})")
            }
            12 => format!(
                "{}({})",
                self.rng.pick(&["days", "hours", "minutes"]),
                self.expr(T::Dur, d, sc)
            ),
            13 if sc.request => format!("days_since({})", self.expr(T::Ts, d, sc)),
            14 => format!(
                "{}({})",
                self.rng.pick(&["hour_of_day", "day_of_week"]),
                self.expr(T::Ts, d, sc)
            ),
            15 => format!("bucket({}, {})", self.expr(T::Str, d, sc), self.expr(T::Str, d, sc)),
            16 => format!("({} ?? {})", self.expr(T::OptInt, d, sc), self.expr(T::Int, d, sc)),
            17 if sc.calls >= 2 && self.offer(sc).is_some() => {
                let o = self.offer(sc).unwrap_or_default();
                format!("f_int({}, {o})", self.expr(T::Int, d, sc))
            }
            18 if sc.calls >= 1 && self.offer(sc).is_some() => {
                format!("t_unique({})", self.offer(sc).unwrap_or_default())
            }
            19 => "c_int".to_string(),
            _ => self.leaf(T::Int, sc),
        }
    }

    fn float_expr(&mut self, d: usize, sc: &Scope) -> String {
        match self.rng.below(20) {
            0..=4 => {
                let op = self.rng.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.expr(T::Float, d, sc), self.expr(T::Float, d, sc))
            }
            5 => format!("(-{})", self.expr(T::Float, d, sc)),
            6 => format!("abs({})", self.expr(T::Float, d, sc)),
            7 => format!(
                "{}({}, {})",
                self.rng.pick(&["min", "max"]),
                self.expr(T::Float, d, sc),
                self.expr(T::Float, d, sc)
            ),
            8 => format!(
                "clamp({}, {}, {})",
                self.expr(T::Float, d, sc),
                self.expr(T::Float, d, sc),
                self.expr(T::Float, d, sc)
            ),
            9 => format!("{}({})", self.rng.pick(&["sqrt", "ln"]), self.expr(T::Float, d, sc)),
            10 => format!("float({})", self.expr(T::Int, d, sc)),
            11 => format!("({} ?? {})", self.expr(T::OptFloat, d, sc), self.expr(T::Float, d, sc)),
            12 => format!("({} * {})", self.expr(T::Int, d, sc), self.expr(T::Float, d, sc)),
            13 if sc.calls >= 1 && self.offer(sc).is_some() => {
                format!("t_first({})", self.offer(sc).unwrap_or_default())
            }
            14 if sc.calls >= 3 && self.offer(sc).is_some() => format!("rk({})", self.offer(sc).unwrap_or_default()),
            _ => self.leaf(T::Float, sc),
        }
    }
}

fn offer_scope(name: &str, segments: usize, calls: u8) -> Scope {
    Scope {
        locals: vec![(format!("__offer:{name}"), T::Bool)],
        request: true,
        segments,
        calls,
        experiment: true,
    }
}

/// A random program's source.
fn program(seed: u64) -> String {
    let mut g = Gen {
        rng: Rng(seed),
        fresh: 0,
    };
    let depth = 3;
    let mut out = String::from("package gen.p\n\nimport gen.{Tier, Pair, Profile, Offer}\n\n");
    out += &format!(
        "const c_int: Int = ({} + {}) * {} / {}\n",
        g.lit(T::Int),
        g.lit(T::Int),
        g.lit(T::Int),
        g.lit(T::Int)
    );
    out += &format!(
        "const c_set: Set<String> = [{}, {}, lower(\"X\") + {}]\n",
        g.lit(T::Str),
        g.lit(T::Str),
        g.lit(T::Str)
    );
    out += &format!("const c_se: Set<Tier> = [{}, {}]\n", g.lit(T::Tier), g.lit(T::Tier));
    out += &format!(
        "const c_sf: Set<Float> = [{}, {}, -0.0, 0.0]\n",
        g.lit(T::Float),
        g.lit(T::Float)
    );
    out += &format!(
        "const c_pair: Pair = Pair {{ a: c_int, b: upper({}) }}\n\n",
        g.lit(T::Str)
    );
    // Half the programs run the experiment in a slice of a layer, so some subjects are not
    // enrolled (every `exp is …` false, the decision made as without the experiment).
    let layer = match g.rng.below(4) {
        0 => "  layer gen 0% to 50%\n",
        1 => "  layer gen 25% to 62.5%\n",
        _ => "",
    };
    out += &format!(
        "experiment exp {{\n  salt \"gen\"\n{layer}  holdout 10%\n  variant control 50%\n  variant treatment 50%\n}}\n\n"
    );
    let nseg = 3;
    for i in 0..nseg {
        let sc = Scope {
            locals: vec![],
            request: true,
            segments: i,
            calls: 0,
            experiment: true,
        };
        out += &format!("segment seg{i} = {}\n", g.expr(T::Bool, depth, &sc));
    }
    // Tables see their parameter and the request.
    let ts = Scope {
        calls: 0,
        experiment: false,
        ..offer_scope("o", nseg, 0)
    };
    let c1 = g.lit(T::Int);
    let c2 = g.lit(T::Float);
    out += &format!(
        "\ntable t_first(o: Offer) -> Float {{\n  hit first\n  given o.e, o.i, profile.of, o.s\n  row Gold, >= {c1}, _, _ => {}\n  row _, < 3, > {c2}, _ => {}\n  row in [Bronze, Silver], _, _, in [\"a\", \"b\"] => {}\n  row _, != 7, _, not in [\"\"] => {}\n  default {}\n}}\n",
        g.expr(T::Float, 2, &ts),
        g.expr(T::Float, 2, &ts),
        g.expr(T::Float, 2, &ts),
        g.expr(T::Float, 2, &ts),
        g.expr(T::Float, 2, &ts),
    );
    out += &format!(
        "\ntable t_unique(o: Offer) -> Int {{\n  hit unique\n  given o.e, o.f\n  row Bronze, _ => {}\n  row Silver, >= 1 => {}\n  row Gold, _ => {}\n  default {}\n}}\n",
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 2, &ts),
    );
    out += &format!(
        "\ntable t_collect(o: Offer) -> Int {{\n  hit collect\n  given o.i, profile.oi, o.s\n  row > 0, _, _ => {}\n  row _, <= 2, _ => {}\n  row _, _, \"a\" => {}\n  row _, _, _ => {}\n}}\n",
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 2, &ts),
        g.expr(T::Int, 1, &ts),
    );
    let mut fs = offer_scope("o", nseg, 1);
    fs.locals.push(("x".into(), T::Int));
    out += &format!("\nfn f_int(x: Int, o: Offer) -> Int = {}\n", g.expr(T::Int, depth, &fs));
    out += &format!(
        "fn f_bool(o: Offer) -> Bool = {}\n",
        g.expr(T::Bool, depth, &offer_scope("o", nseg, 1))
    );
    out += &format!(
        "fn f_opt(o: Offer) -> Int? = if {} then o.oi else {}\n",
        g.expr(T::Bool, 2, &offer_scope("o", nseg, 1)),
        g.expr(T::Int, 2, &offer_scope("o", nseg, 1))
    );
    let rs = offer_scope("offer", nseg, 2);
    out += &format!(
        "\nranking rk for offer: Offer {{\n  score {}\n",
        g.expr(T::Float, depth, &rs)
    );
    for b in 0..1 + g.rng.below(4) {
        out += &format!(
            "  boost b{b}: {} when {}\n",
            g.expr(T::Float, 2, &rs),
            g.expr(T::Bool, depth, &rs)
        );
    }
    out += "}\n";
    let e2 = offer_scope("offer", nseg, 3);
    out += "\neligibility el2 for offer: Offer {\n";
    for r in 0..1 + g.rng.below(3) {
        let kind = if g.rng.chance(50) { "require" } else { "deny" };
        out += &format!(
            "  {kind} r{r}: {} because \"reason {r}\"\n",
            g.expr(T::Bool, depth, &e2)
        );
    }
    out += "}\n";
    let e1 = offer_scope("offer", nseg, 4);
    out += "\neligibility el for offer: Offer {\n";
    for r in 0..2 + g.rng.below(5) {
        let kind = if g.rng.chance(60) { "require" } else { "deny" };
        out += &format!("  {kind} r{r}: {}\n", g.expr(T::Bool, depth, &e1));
    }
    out += "}\n";
    let max = 1 + g.rng.below(4);
    let cap = match g.rng.below(4) {
        0 | 1 => "  cap offer 2 per 1d\n",
        2 => "  cap channel 3 per 1d\n",
        _ => "",
    };
    let channels = if g.rng.chance(30) { "  channels Web, App\n" } else { "" };
    let consent = if g.rng.chance(20) { "  consent marketing\n" } else { "" };
    out += &format!(
        "\ndecision dec {{\n  placement \"p\"\n{channels}  candidates el\n  rank rk\n  experiment exp\n  max {max}\n{cap}{consent}  fallback \"fb\"\n}}\n"
    );
    out
}

fn json_value(r: &mut Rng, t: T) -> serde_json::Value {
    use serde_json::json;
    match t {
        T::Bool => json!(r.chance(50)),
        T::Int => json!(*r.pick(&[
            0i64,
            1,
            -1,
            2,
            3,
            7,
            10,
            -13,
            i64::MAX,
            i64::MIN,
            4_611_686_018_427_387_904,
            1000
        ])),
        T::Float => {
            let f = *r.pick(&[0.0, -0.0, 1.5, -2.25, 3.0, 0.1, 1e308, -1e308, 2.0]);
            match r.below(10) {
                0 => json!("NaN"),
                1 => json!("inf"),
                2 => json!("-inf"),
                _ => json!(f),
            }
        }
        T::Str => json!(*r.pick(&["", "a", "b", "ab", "DE", "A b ", "é", "zz"])),
        T::Dur => json!(*r.pick(&[0i64, 1, -1, 3_600_000, 86_400_000, i64::MAX, i64::MIN, 900_000])),
        T::Ts => json!(*r.pick(&[
            0i64,
            1_795_000_000_000,
            1_764_000_000_000,
            -1,
            i64::MAX,
            i64::MIN + 1,
            1_800_000_000_000
        ])),
        T::Tier => json!(*r.pick(&["Bronze", "Silver", "Gold"])),
        T::OptInt => {
            if r.chance(40) {
                serde_json::Value::Null
            } else {
                json_value(r, T::Int)
            }
        }
        T::OptFloat => {
            if r.chance(40) {
                serde_json::Value::Null
            } else {
                json_value(r, T::Float)
            }
        }
        T::OptStr => {
            if r.chance(40) {
                serde_json::Value::Null
            } else {
                json_value(r, T::Str)
            }
        }
        T::SetStr => serde_json::Value::Array((0..r.below(4)).map(|_| json_value(r, T::Str)).collect()),
        T::SetTier => serde_json::Value::Array((0..r.below(3)).map(|_| json_value(r, T::Tier)).collect()),
        T::ListInt => serde_json::Value::Array((0..r.below(4)).map(|_| json_value(r, T::Int)).collect()),
        T::SetFloat | T::ListFloat => {
            serde_json::Value::Array((0..r.below(4)).map(|_| json_value(r, T::Float)).collect())
        }
        T::Pair => {
            let a = json_value(r, T::Int);
            if r.chance(50) {
                json!({ "a": a })
            } else {
                json!({ "a": a, "b": json_value(r, T::Str) })
            }
        }
        T::ListPair => serde_json::Value::Array((0..r.below(3)).map(|_| json_value(r, T::Pair)).collect()),
    }
}

fn record(r: &mut Rng) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for (name, t) in FIELDS {
        let v = json_value(r, *t);
        if !v.is_null() {
            m.insert((*name).to_string(), v);
        }
    }
    m
}

/// Outcomes seen: errors, decisions that chose offers, with removals only, others.
static STATS: [std::sync::atomic::AtomicUsize; 4] = [const { std::sync::atomic::AtomicUsize::new(0) }; 4];

fn same<X: std::fmt::Debug>(a: &X, b: &X) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn check_seed(seed: u64) -> Result<(), TestCaseError> {
    let text = program(seed);
    let mut sources = SourceMap::new();
    sources.add("gen/schema.policy", SCHEMA);
    sources.add("gen/p.policy", text.clone());
    let bundle = match Bundle::compile_with(sources, CompileOptions { jit: true }) {
        Ok(b) => b,
        Err(tailor_compiler::BundleError::Invalid(a)) => {
            let msgs: Vec<String> = a
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("{:?}", d))
                .collect();
            return Err(TestCaseError::fail(format!(
                "generated program does not check (a generator bug):\n{text}\n{}",
                msgs.join("\n")
            )));
        }
        Err(e) => return Err(TestCaseError::fail(format!("seed {seed}: {e}\n{text}"))),
    };
    let p = bundle.program();
    let offer = p.schemas.iter().position(|s| s.name == "gen.Offer").unwrap_or(0) as u32;
    let mut r = Rng(seed ^ 0xDEAD_BEEF);
    let n = 1 + r.below(12);
    let offers: Vec<serde_json::Value> = (0..n)
        .map(|k| {
            let mut m = record(&mut r);
            m.insert("id".into(), serde_json::json!(format!("o{}", k % 5)));
            let ch: Vec<&str> = ["Web", "App", "Email"]
                .iter()
                .copied()
                .filter(|_| r.chance(50))
                .collect();
            m.insert("ch".into(), serde_json::json!(ch));
            serde_json::Value::Object(m)
        })
        .collect();
    let catalog = bundle
        .prepare_catalog_json(offer, &offers)
        .map_err(|e| TestCaseError::fail(format!("catalog: {e}")))?;
    let profile_ty = Type::Record(p.profile.unwrap_or(0));
    let context_ty = Type::Record(p.builtins.context);
    for q in 0..6 {
        let profile = if r.chance(8) {
            None
        } else {
            Some(
                value_from_json(p, &profile_ty, &serde_json::Value::Object(record(&mut r)))
                    .map_err(|e| TestCaseError::fail(format!("profile: {e}")))?,
            )
        };
        let channel = *r.pick(&["Web", "App", "Email"]);
        let context = value_from_json(
            p,
            &context_ty,
            &serde_json::json!({"channel": channel, "placement": "p"}),
        )
        .map_err(|e| TestCaseError::fail(format!("context: {e}")))?;
        let now_ms = *r.pick(&[1_795_000_000_000i64, 0, -86_400_001, 1_764_000_000_000]);
        let env = Env {
            profile,
            context,
            now_ms,
            subject: format!("subject-{}", r.below(50)).into(),
            consents: if r.chance(70) { vec!["marketing".into()] } else { vec![] },
            impressions: (0..r.below(4))
                .map(|k| Impression {
                    offer_id: format!("o{k}"),
                    // Some at another placement or channel: only `cap channel` counts the former.
                    placement: if k % 2 == 0 { "p".into() } else { "q".into() },
                    channel: (k % 3) as u32,
                    at_ms: now_ms - 3_600_000 * k as i64,
                })
                .collect(),
        };
        let dec = p.decision_for_placement("p").unwrap_or(0);
        let max = if q % 3 == 0 { Some(1) } else { None };
        let a = bundle.decide(Backend::Interpreter, &env, dec, &catalog, max);
        let b = bundle.decide(Backend::Jit, &env, dec, &catalog, max);
        prop_assert!(
            same(&a, &b),
            "seed {seed}: decisions differ\n{text}\ninterpreter: {a:?}\njit: {b:?}"
        );
        // With less of the story, both backends give the same answer, and only what was left
        // out is gone: the named trace, then the verdicts too.
        for backend in [Backend::Interpreter, Backend::Jit] {
            let verdicts = bundle.decide_traced(backend, &env, dec, &catalog, max, TraceLevel::Verdicts);
            let expected = a.clone().map(|mut o| {
                o.trace.clear();
                o
            });
            prop_assert!(
                same(&verdicts, &expected),
                "seed {seed}: {backend:?} with verdicts only differs\n{text}\nverdicts: {verdicts:?}\ntraced: {a:?}"
            );
            let untraced = bundle.decide_untraced(backend, &env, dec, &catalog, max);
            let expected = expected.map(|mut o| {
                o.verdicts.clear();
                o
            });
            prop_assert!(
                same(&untraced, &expected),
                "seed {seed}: untraced {backend:?} differs\n{text}\nuntraced: {untraced:?}\ntraced: {a:?}"
            );
        }
        let kind = match &a {
            Err(_) => 0,
            Ok(o) if !o.offers.is_empty() => 1,
            Ok(o)
                if o.trace
                    .iter()
                    .any(|t| matches!(t.outcome, tailor_compiler::interp::CandidateOutcome::Removed { .. })) =>
            {
                2
            }
            Ok(_) => 3,
        };
        STATS[kind].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for e in 0..p.eligibilities.len() as u32 {
            if p.eligibilities[e as usize].schema != offer {
                continue;
            }
            let a = bundle.eligibility(Backend::Interpreter, &env, e, &catalog);
            let b = bundle.eligibility(Backend::Jit, &env, e, &catalog);
            prop_assert!(
                same(&a, &b),
                "seed {seed}: eligibility differs\n{text}\ninterpreter: {a:?}\njit: {b:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_jit_agrees_with_the_interpreter(seed in any::<u64>()) {
        check_seed(seed)?;
    }
}

/// A fixed sweep of seeds, so every run covers the same ground on top of the random cases.
#[test]
fn fixed_seeds_agree() {
    let (from, to) = std::env::var("JIT_SEEDS")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((0u64, 24u64));
    for seed in from..to {
        if std::env::var("JIT_SEEDS").is_ok() {
            eprintln!("seed {seed}");
            if std::env::var("JIT_SHOW").is_ok() {
                eprintln!("{}", program(seed));
            }
        }
        if let Err(e) = check_seed(seed) {
            panic!("{e}");
        }
    }
    let stats: Vec<usize> = STATS
        .iter()
        .map(|s| s.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    eprintln!(
        "decisions: {} errors, {} chose offers, {} removed all, {} other",
        stats[0], stats[1], stats[2], stats[3]
    );
}
