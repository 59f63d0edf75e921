//! The central table of diagnostic codes.
//!
//! Every diagnostic the compiler emits has a code from this table. A code is never reused once
//! retired: retired codes stay in the table with [`Status::Retired`]. `docs/diagnostics.md` is
//! generated from this table (`tailor explain-code --all --markdown`), and `tailor explain-code
//! E0102` prints one entry.
//!
//! Ranges: `E00xx` syntax, `E01xx` names and resolution, `E02xx` types, `E03xx` declarations
//! (experiments, tables, decisions, tests), `W0xxx` warnings.

use super::Severity;
use serde::{Serialize, Serializer};

/// Whether a code is still emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Retired,
}

/// Everything the table knows about one code.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    pub code: Code,
    /// Stable text form, e.g. `E0102`.
    pub id: &'static str,
    /// Kebab-case name describing the problem, e.g. `unknown-field`.
    pub name: &'static str,
    pub severity: Severity,
    pub status: Status,
    /// One line: what the problem is.
    pub summary: &'static str,
    /// Markdown: why it matters, an example, and the fix.
    pub explanation: &'static str,
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($id:literal, $name:literal, $sev:ident, $summary:literal); )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code in the table, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn info(self) -> CodeInfo {
                match self {
                    $(Code::$variant => CodeInfo {
                        code: Code::$variant,
                        id: $id,
                        name: $name,
                        severity: Severity::$sev,
                        status: Status::Active,
                        summary: $summary,
                        explanation: concat!($($doc, "\n",)*),
                    },)*
                }
            }
        }
    };
}

impl Code {
    pub fn id(self) -> &'static str {
        self.info().id
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Looks a code up by its id (`E0102`) or its name (`unknown-field`), case-insensitively.
    pub fn lookup(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| {
            let i = c.info();
            i.id.eq_ignore_ascii_case(text) || i.name.eq_ignore_ascii_case(text)
        })
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

codes! {
    // ---- syntax -------------------------------------------------------------------------
    /// The parser met something it did not expect; the message says what it expected instead.
    ///
    /// Tailor reports every syntax error it can find: the declaration that failed to parse is
    /// set aside, and the rest of the file is still resolved and checked. So one typo gives one
    /// error, and fixing it may reveal errors the broken declaration was hiding.
    ///
    /// ```policy
    /// segment high_value = profile.lifetime_value >=
    /// ```
    ///
    /// ```text
    /// error[E0001]: expected an expression after `>=`
    /// ```
    ///
    /// Fix: complete or correct the text at the position shown, here `>= 500.0`. Every
    /// construct and its grammar is in `docs/language.md`.
    SyntaxError = ("E0001", "syntax-error", Error, "the text does not follow the grammar");
    /// A string literal has no closing quote before the end of its line.
    ///
    /// Strings cannot span lines, so a missing `"` would otherwise swallow the rest of the line
    /// and confuse everything after it. The error points at the opening quote.
    ///
    /// ```policy
    /// deny blocked: offer.blocked_countries contains profile.country because "not sold here
    /// ```
    ///
    /// ```text
    /// error[E0002]: unterminated string
    /// ```
    ///
    /// Fix: add the closing quote. To put a quote or a line break inside a string, escape it:
    /// `"say \"hi\"\n"`.
    UnterminatedString = ("E0002", "unterminated-string", Error, "a string is missing its closing quote");
    /// A number, duration, percentage or timestamp literal is malformed or out of range.
    ///
    /// Literals are checked when the policy is checked, never when it runs, so a bad date or a
    /// number too large for `Int` is caught before it can reach a decision.
    ///
    /// ```policy
    /// const launch: Timestamp = @2026-02-30
    /// const too_big: Int = 9223372036854775808
    /// ```
    ///
    /// ```text
    /// error[E0003]: invalid timestamp `@2026-02-30`: February has no day 30
    /// ```
    ///
    /// Fix: write the value in range and in the documented form. `Int` is 64-bit signed;
    /// durations are a number and a unit (`500ms`, `30s`, `15m`, `2h`, `30d`, `1w`); timestamps
    /// are UTC, `@2026-11-24` or `@2026-11-24T10:30:00Z`; percentages are `50%` or `33.34%`.
    InvalidLiteral = ("E0003", "invalid-literal", Error, "a literal value is malformed or out of range");
    /// The file does not start with a `package` declaration.
    ///
    /// Every file belongs to a package: the package is how other files import its names, and it
    /// is the first part of every rule's identity (`package.block.label`) in explanations and
    /// the audit log.
    ///
    /// ```policy
    /// segment high_value = profile.lifetime_value >= 500.0
    /// ```
    ///
    /// ```text
    /// error[E0004]: missing package declaration
    /// ```
    ///
    /// Fix: start the file with `package` and a dotted name, usually following the directory,
    /// such as `package retail.home`. Several files may declare the same package.
    MissingPackage = ("E0004", "missing-package", Error, "the file does not start with a package declaration");
    /// An `import` comes after a declaration.
    ///
    /// Imports belong together at the top of the file, right after `package`, so a reader sees
    /// at a glance what the file depends on.
    ///
    /// ```policy
    /// package retail.home
    ///
    /// segment high_value = profile.lifetime_value >= 500.0
    ///
    /// import retail.schema.{Profile, Offer}
    /// ```
    ///
    /// ```text
    /// error[E0005]: imports must come before declarations
    /// ```
    ///
    /// Fix: move the `import` line up, directly below the `package` line.
    MisplacedImport = ("E0005", "misplaced-import", Error, "an import comes after a declaration");
    /// A character that no token of the language starts with.
    ///
    /// Often a character pasted from a document (typographic quotes `“ ”`, a non-breaking dash)
    /// or an operator from another language (`&&`, `||`, `!`, `;`).
    ///
    /// ```policy
    /// segment german = profile.country == “DE”
    /// ```
    ///
    /// ```text
    /// error[E0006]: unknown character `“`
    /// ```
    ///
    /// Fix: use straight quotes `"` for strings, and the words `and`, `or`, `not` for logic
    /// (`!=` is the only operator with `!`). Statements need no `;`.
    UnknownCharacter = ("E0006", "unknown-character", Error, "a character that is not part of the language");
    /// A file declares its package twice.
    ///
    /// A file belongs to exactly one package, so a second `package` line is a mistake, often
    /// from pasting two files together.
    ///
    /// ```policy
    /// package retail.home
    /// package retail.offers
    /// ```
    ///
    /// ```text
    /// error[E0007]: duplicate package declaration
    /// ```
    ///
    /// Fix: keep one `package` line. If the file really holds two packages' declarations, split
    /// it into two files.
    DuplicatePackage = ("E0007", "duplicate-package", Error, "a file declares its package twice");

    // ---- names --------------------------------------------------------------------------
    /// A name that is not defined in the package, not imported and not built in.
    ///
    /// Names are resolved when the policy is checked, so a misspelt segment or constant can
    /// never silently evaluate to nothing at decide time. The help line suggests the closest
    /// name in scope.
    ///
    /// ```policy
    /// segment vip = high_valeu and new_customer
    /// ```
    ///
    /// ```text
    /// error[E0101]: unknown name `high_valeu`
    ///   help: did you mean `high_value`?
    /// ```
    ///
    /// Fix: correct the spelling, declare the name, or import it from the package that declares
    /// it (`import retail.segments.high_value`). Names from other packages are only visible
    /// when imported.
    UnknownName = ("E0101", "unknown-name", Error, "a name is not defined");
    /// A field that the record's schema does not declare.
    ///
    /// Every field access is checked against the schema, so a typo in a field name fails the
    /// check instead of failing, or quietly misbehaving, when a customer is decided for.
    ///
    /// ```policy
    /// segment high_value = profile.lifetime_valeu >= 500.0
    /// ```
    ///
    /// ```text
    /// error[E0102]: unknown field `lifetime_valeu`
    ///   help: did you mean `lifetime_value`?
    /// ```
    ///
    /// Fix: correct the field name, or, if the data really has this field, add it to the schema
    /// (`lifetime_value: Float` in `schema Profile`).
    UnknownField = ("E0102", "unknown-field", Error, "a record has no field of this name");
    /// A type name that is neither built in nor a declared enum or schema.
    ///
    /// ```policy
    /// schema Offer {
    ///   priority: Integer
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0103]: unknown type `Integer`
    ///   help: did you mean `Int`?
    /// ```
    ///
    /// Fix: use a built-in type (`Bool`, `Int`, `Float`, `String`, `Duration`, `Timestamp`,
    /// `Set<T>`, `List<T>`, and `Channel` and `Context` from `std`), or declare the enum or
    /// schema, or import it from the package that declares it.
    UnknownType = ("E0103", "unknown-type", Error, "a type is not defined");
    /// An import names a package that no file in the bundle declares.
    ///
    /// The bundle is every `.policy` file under the paths given to `tailor check`; a package
    /// exists when one of those files declares it. A common cause is checking one directory
    /// while its schemas live in another.
    ///
    /// ```policy
    /// package retail.home
    ///
    /// import retail.shema.{Profile, Offer}
    /// ```
    ///
    /// ```text
    /// error[E0104]: unknown package `retail.shema`
    ///   help: did you mean `retail.schema`?
    /// ```
    ///
    /// Fix: correct the package name, or pass the directory that declares it to `tailor check`
    /// as well.
    UnknownPackage = ("E0104", "unknown-package", Error, "an imported package does not exist");
    /// An import names a member that the package does not define.
    ///
    /// ```policy
    /// import retail.schema.{Profile, Ofer}
    /// ```
    ///
    /// ```text
    /// error[E0105]: `retail.schema` has no member `Ofer`
    ///   help: did you mean `Offer`?
    /// ```
    ///
    /// Fix: correct the name, or declare the member in the imported package.
    UnknownImport = ("E0105", "unknown-import", Error, "an imported name is not defined in its package");
    /// Two declarations in one package, or an import and a declaration, share a name.
    ///
    /// All top-level names of a package are visible in all its files, so two files of one
    /// package declaring the same name would make every use of it ambiguous. The error points
    /// at the second definition and names the first.
    ///
    /// ```policy
    /// // retail/home.policy
    /// segment high_value = profile.lifetime_value >= 500.0
    ///
    /// // retail/email.policy, also `package retail.home`
    /// segment high_value = profile.lifetime_value >= 1000.0
    /// ```
    ///
    /// ```text
    /// error[E0106]: `high_value` is defined twice in package `retail.home`
    /// ```
    ///
    /// Fix: rename one of them (`high_value_email`), delete the copy, or drop the import that
    /// clashes with the local name.
    DuplicateDefinition = ("E0106", "duplicate-definition", Error, "a name is defined twice");
    /// A schema declares the same field twice, or a record literal sets it twice.
    ///
    /// ```policy
    /// const welcome: Offer = Offer { id: "welcome-10", priority: 5, id: "welcome-20", ... }
    /// ```
    ///
    /// ```text
    /// error[E0107]: field `id` is set twice
    /// ```
    ///
    /// Fix: keep one of the two. To derive a record from another with some fields changed, use
    /// `base with { field: value }`.
    DuplicateField = ("E0107", "duplicate-field", Error, "a field appears twice");
    /// An enum has no variant of this name.
    ///
    /// ```policy
    /// segment lapsed = profile.lifecycle == Lifecycle.Lapsd
    /// ```
    ///
    /// ```text
    /// error[E0108]: enum `Lifecycle` has no variant `Lapsd`
    ///   help: did you mean `Lapsed`?
    /// ```
    ///
    /// Fix: correct the variant name, or add the variant to the enum declaration.
    UnknownVariant = ("E0108", "unknown-variant", Error, "an enum has no variant of this name");
    /// An enum declares the same variant twice.
    ///
    /// ```policy
    /// enum Tier { Standard, Premium, Standard }
    /// ```
    ///
    /// ```text
    /// error[E0109]: variant `Standard` is declared twice
    /// ```
    ///
    /// Fix: remove the repeated variant.
    DuplicateVariant = ("E0109", "duplicate-variant", Error, "an enum declares a variant twice");
    /// A call to a function that is neither declared nor in the standard library.
    ///
    /// ```policy
    /// segment rich = rnd(profile.lifetime_value) >= 500
    /// ```
    ///
    /// ```text
    /// error[E0110]: unknown function `rnd`
    ///   help: did you mean `round`?
    /// ```
    ///
    /// Fix: correct the name, declare the function with `fn`, or import it. The standard
    /// library is listed in `docs/stdlib.md`.
    UnknownFunction = ("E0110", "unknown-function", Error, "a called function is not defined");
    /// A segment, constant, function or table refers to itself, directly or through others.
    ///
    /// Tailor guarantees that every policy terminates and has a bounded cost, so there are no
    /// loops and no recursion. The error lists the cycle.
    ///
    /// ```policy
    /// segment engaged = profile.visits > 3 and not dormant
    /// segment dormant = not engaged
    /// ```
    ///
    /// ```text
    /// error[E0111]: `engaged` refers to itself: engaged → dormant → engaged
    /// ```
    ///
    /// Fix: break the cycle by defining one of the names directly from profile fields, for
    /// example `segment dormant = profile.days_since_visit > 90`. Iterate over collections with
    /// `any`, `all` and `count` instead of recursion.
    RecursiveDefinition = ("E0111", "recursive-definition", Error, "a definition refers to itself");
    /// A name is used as a kind of thing it is not: a schema as a value, a segment as a
    /// function, a constant as a type.
    ///
    /// ```policy
    /// segment s = high_value(profile)
    /// ```
    ///
    /// ```text
    /// error[E0112]: `high_value` is a segment, not a function
    /// ```
    ///
    /// Fix: use the name the way its declaration allows. A segment is a `Bool` used by name
    /// (`high_value`); to pass arguments, declare a `fn`. A schema names a type or a record
    /// literal (`Offer { ... }`), not a value.
    WrongKindOfName = ("E0112", "wrong-kind-of-name", Error, "a name is used as the wrong kind of thing");
    /// Two rules of one eligibility block, or two boosts of one ranking, carry the same label.
    ///
    /// A rule's identity is `package.block.label`: it is what explanations, test failures and
    /// the audit log report as the reason an offer was removed or kept. Two rules with one
    /// label would make those reports ambiguous.
    ///
    /// ```policy
    /// eligibility home_offers for offer: Offer {
    ///   require live: offer.starts_at <= now()
    ///   require live: now() < offer.ends_at
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0113]: two rules are labelled `live`
    /// ```
    ///
    /// Fix: give each rule its own label (`started`, `not_ended`), or join the conditions with
    /// `and`.
    DuplicateRuleLabel = ("E0113", "duplicate-rule-label", Error, "two rules share a label");
    /// Two decisions serve the same placement.
    ///
    /// A channel asks for a placement (`"home.hero"`) and exactly one decision must answer it.
    ///
    /// ```policy
    /// decision home_hero { placement "home.hero" ... }
    /// decision home_hero_xmas { placement "home.hero" ... }
    /// ```
    ///
    /// ```text
    /// error[E0114]: placement "home.hero" is served by two decisions
    /// ```
    ///
    /// Fix: give each decision its own placement. To try alternatives on one placement, use an
    /// `experiment` in one decision; to change it for a season, use a rule with a date
    /// condition.
    DuplicatePlacement = ("E0114", "duplicate-placement", Error, "two decisions serve the same placement");
    /// A package imports itself.
    ///
    /// All top-level names of a package are already visible in every one of its files, so the
    /// import does nothing.
    ///
    /// ```policy
    /// package retail.home
    ///
    /// import retail.home.{high_value}
    /// ```
    ///
    /// ```text
    /// error[E0115]: package `retail.home` imports itself
    /// ```
    ///
    /// Fix: remove the import.
    SelfImport = ("E0115", "self-import", Error, "a package imports itself");
    /// An experiment has no variant of this name.
    ///
    /// ```policy
    /// boost urgent_copy: 1.2 when hero_copy is urgnt
    /// ```
    ///
    /// ```text
    /// error[E0116]: experiment `hero_copy` has no variant `urgnt`
    ///   help: did you mean `urgent`?
    /// ```
    ///
    /// Fix: correct the variant name, or add the variant to the experiment.
    UnknownExperimentVariant = ("E0116", "unknown-experiment-variant", Error, "an experiment has no variant of this name");
    /// `profile` needs exactly one schema named `Profile` in the bundle: two packages declare
    /// one, or none does while a policy reads `profile`.
    ///
    /// `profile` is the subject being decided for; its type is the `Profile` schema, the same
    /// in every package of the bundle.
    ///
    /// ```policy
    /// // retail/schema.policy
    /// schema Profile { country: String }
    ///
    /// // loyalty/schema.policy
    /// schema Profile { points: Int }
    /// ```
    ///
    /// ```text
    /// error[E0117]: two schemas are named `Profile`
    /// ```
    ///
    /// Fix: keep one `Profile` schema with every field the policies need, in a shared package,
    /// and import it where the type is named. If `profile` is used but no `Profile` exists,
    /// declare it or check the directory that declares it too.
    ProfileSchema = ("E0117", "profile-schema", Error, "`profile` needs exactly one `Profile` schema");

    // ---- types --------------------------------------------------------------------------
    /// A value of one type where another is required.
    ///
    /// Every expression has a type that is known when the policy is checked: a segment or a
    /// rule condition is a `Bool`, a score is a number, both branches of an `if` have one type.
    /// A mismatch is caught before deploy instead of producing a wrong decision.
    ///
    /// ```policy
    /// segment high_value = profile.lifetime_value
    /// ```
    ///
    /// ```text
    /// error[E0201]: expected `Bool`, found `Float`
    /// ```
    ///
    /// Fix: write the expression the context needs, here a comparison: `segment high_value =
    /// profile.lifetime_value >= 500.0`. `Int` and `Float` mix freely; to turn a `Float` into
    /// an `Int`, use `round`, `floor`, `ceil` or `trunc`.
    TypeMismatch = ("E0201", "type-mismatch", Error, "a value has the wrong type");
    /// An optional value (`T?`) is used before the missing case is handled.
    ///
    /// An optional field may be missing for some customers. Tailor makes every policy say what
    /// happens then, so a decision never fails at decide time because a field was absent.
    ///
    /// ```policy
    /// segment gmail = profile.email_domain == "gmail.com"   // email_domain: String?
    /// ```
    ///
    /// ```text
    /// error[E0202]: `profile.email_domain` may be missing
    ///   help: give a default with `??`, or test it with `exists` or `if let`
    /// ```
    ///
    /// Fix: handle the missing case in one of three ways:
    ///
    /// ```policy
    /// segment gmail = (profile.email_domain ?? "") == "gmail.com"
    /// segment has_email = exists profile.email_domain
    /// segment gmail = if let d = profile.email_domain then d == "gmail.com" else false
    /// ```
    UnhandledOptional = ("E0202", "unhandled-optional", Error, "an optional value is used without handling the missing case");
    /// A call passes too many or too few arguments.
    ///
    /// ```policy
    /// fn discount_for(tier: Tier, value: Float) -> Float =
    ///   if tier == Tier.Premium then value * 0.2 else 0.0
    ///
    /// ranking home_rank for offer: Offer {
    ///   score discount_for(offer.tier)
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0203]: `discount_for` takes 2 arguments, but 1 was given
    /// ```
    ///
    /// Fix: pass one argument for each parameter, in order: `discount_for(offer.tier,
    /// offer.margin)`. A table with parameters is called the same way; a table without
    /// parameters is used by name, without parentheses.
    WrongArgumentCount = ("E0203", "wrong-argument-count", Error, "a call has the wrong number of arguments");
    /// A field is read (`.field`) from a value that is not a record.
    ///
    /// ```policy
    /// segment german = profile.country.code == "DE"   // country: String
    /// ```
    ///
    /// ```text
    /// error[E0204]: `profile.country` is a `String`, which has no fields
    /// ```
    ///
    /// Fix: remove the extra field access (`profile.country == "DE"`), or, if the data is
    /// really a record, declare the field with a schema type.
    NotARecord = ("E0204", "not-a-record", Error, "a field is read from a value that is not a record");
    /// An operator is applied to types it is not defined for.
    ///
    /// Arithmetic is defined for numbers, durations and timestamps, and `+` also joins strings;
    /// see the operator table in `docs/language.md`. A bare number is not a duration.
    ///
    /// ```policy
    /// require recent: offer.starts_at >= now() - 7
    /// ```
    ///
    /// ```text
    /// error[E0205]: `-` is not defined for `Timestamp` and `Int`
    /// ```
    ///
    /// Fix: use operands the operator accepts, here a duration: `now() - 7d`.
    InvalidOperands = ("E0205", "invalid-operands", Error, "an operator is not defined for these types");
    /// A quantifier (`any`, `all`, `count`), `in` or `contains` is used on a value that is not
    /// a set or a list.
    ///
    /// ```policy
    /// segment likes_shoes = any i in profile.interest: i == "shoes"   // interest: String
    /// ```
    ///
    /// ```text
    /// error[E0206]: `profile.interest` is a `String`, not a collection
    /// ```
    ///
    /// Fix: iterate over a `Set<T>` or `List<T>` field (`any i in profile.interests: …`), or
    /// compare the single value directly (`profile.interest == "shoes"`). On two strings, `s
    /// contains t` tests for a substring.
    NotACollection = ("E0206", "not-a-collection", Error, "a value used as a collection is not one");
    /// A record literal leaves out a field that is not optional.
    ///
    /// Records are complete: every non-optional field has a value, so reading a field never
    /// fails.
    ///
    /// ```policy
    /// const welcome: Offer = Offer { id: "welcome-10", priority: 5 }
    /// ```
    ///
    /// ```text
    /// error[E0207]: missing fields `margin`, `tier`, `tags`, `channels`, ... in `Offer`
    /// ```
    ///
    /// Fix: give every required field a value. Optional fields (`T?`) may be left out. To build
    /// many similar records, write one complete record and derive the others from it with
    /// `welcome with { id: "welcome-20" }`.
    MissingField = ("E0207", "missing-field", Error, "a record literal leaves out a required field");
    /// A type that cannot be formed.
    ///
    /// Optionals do not nest (`T??`), sets and lists hold values but not optionals, sets do not
    /// hold records (lists may), and only `Set` and `List` take type arguments.
    ///
    /// ```policy
    /// schema Profile {
    ///   nickname: String??
    ///   recent_offers: Set<Offer>
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0208]: `String??` is not a type: optionals do not nest
    /// ```
    ///
    /// Fix: use `String?` for a value that may be missing, and `List<Offer>` for a collection
    /// of records.
    InvalidType = ("E0208", "invalid-type", Error, "a type is not well formed");
    /// `<`, `<=`, `>` or `>=` on values that have no order: booleans, enums, records, sets.
    ///
    /// Enum variants have no order, because declaration order is an accident of writing, not a
    /// ranking; ordering them would silently change meaning when someone reorders the enum.
    ///
    /// ```policy
    /// deny premium_only: offer.tier > Tier.Standard and not high_value
    /// ```
    ///
    /// ```text
    /// error[E0209]: values of type `Tier` cannot be ordered
    /// ```
    ///
    /// Fix: compare with `==`, `!=` or `in` (`offer.tier != Tier.Standard`, `offer.tier in
    /// [Tier.Premium]`), or map the enum to a number with a table and compare the numbers.
    NotOrdered = ("E0209", "not-ordered", Error, "values of this type cannot be ordered");
    /// A record literal `{ … }` where no record type is expected, so its schema is unknown.
    ///
    /// A bare `{ … }` is accepted where the type is already known (a `profile` clause, a field
    /// of a known schema, an element of a `List<Offer>` constant). Elsewhere, name the schema.
    ///
    /// ```policy
    /// test "welcome offer first" {
    ///   catalog [{ id: "welcome-10", priority: 5, ... }]
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0210]: record literal of unknown type
    ///   help: name the schema: `Offer { ... }`
    /// ```
    ///
    /// Fix: write the schema before the braces, `catalog [Offer { id: "welcome-10", ... }]`, or
    /// declare a typed constant (`const demo_offers: List<Offer> = [...]`) and use it.
    UntypedRecord = ("E0210", "untyped-record", Error, "a record literal whose type is not known");
    /// An empty list `[]` whose element type cannot be inferred.
    ///
    /// `[]` is fine where the expected type is known (`profile { interests: [] }`, a constant
    /// with a type). Where nothing says what it would hold, its type is unknown.
    ///
    /// ```policy
    /// segment nothing = count x in []: x == 0
    /// ```
    ///
    /// ```text
    /// error[E0211]: cannot infer the element type of `[]`
    /// ```
    ///
    /// Fix: declare a typed constant (`const no_ids: List<String> = []`) and use it, or use a
    /// value whose type is known.
    UntypedList = ("E0211", "untyped-list", Error, "an empty list whose element type is not known");

    // ---- declarations ---------------------------------------------------------------------
    /// The variant weights of an experiment do not add up to exactly 100%.
    ///
    /// Every subject in an experiment gets exactly one variant. If the weights fell short, some
    /// subjects would get no variant; if they went over, the split would be ambiguous. A
    /// `holdout` is separate: it takes subjects out before the variants are split.
    ///
    /// ```policy
    /// experiment hero_copy {
    ///   salt "hero-copy-2026-11"
    ///   variant control 50%
    ///   variant urgent 40%
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0301]: variant weights add up to 90%, not 100%
    /// ```
    ///
    /// Fix: adjust the weights so they sum to 100% (decimals are allowed: `33.33%`, `33.33%`,
    /// `33.34%`). To keep some subjects out of the experiment, use `holdout 10%` instead of a
    /// shortfall.
    WeightsNot100 = ("E0301", "weights-not-100", Error, "experiment weights do not add up to 100%");
    /// A weight is out of range: a variant's weight, or a holdout, must be above 0% and at most
    /// 100%; a layer slice (`layer homepage 0% to 50%`) must start below where it ends and end
    /// at most at 100%.
    ///
    /// ```policy
    /// experiment hero_copy {
    ///   salt "hero-copy-2026-11"
    ///   variant control 100%
    ///   variant urgent 0%
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0302]: weight 0% is out of range: it must be above 0% and at most 100%
    /// ```
    ///
    /// Fix: remove a variant that should get no one, or give it a positive share.
    InvalidWeight = ("E0302", "invalid-weight", Error, "a weight is out of range");
    /// Two rows of a `hit unique` table can match the same input.
    ///
    /// `hit unique` promises that at most one row matches any input, so the order of rows does
    /// not matter. The checker proves it for every pair of rows and shows an input both rows
    /// match.
    ///
    /// ```policy
    /// table region_discount -> Float {
    ///   hit unique
    ///   given profile.country, profile.lifetime_value
    ///   row "DE", _        => 0.10
    ///   row _,    >= 500.0 => 0.20
    ///   default 0.0
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0303]: rows 1 and 2 can both match, for example country "DE", lifetime_value 500.0
    /// ```
    ///
    /// Fix: make the rows exclusive (`row "DE", < 500.0 => 0.10`), or, if the first matching
    /// row should win, say so with `hit first`.
    OverlappingRows = ("E0303", "overlapping-rows", Error, "two rows of a unique table can match the same input");
    /// A table with `hit first` or `hit unique` has no `default`.
    ///
    /// Policies never fail at decide time, so every input needs an answer, including those no
    /// row matches.
    ///
    /// ```policy
    /// table welcome_discount -> Float {
    ///   hit first
    ///   given profile.tier
    ///   row Premium => 0.20
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0304]: table `welcome_discount` has no default
    /// ```
    ///
    /// Fix: add `default` with the value for inputs no row matches (`default 0.0`). A `hit
    /// collect` table needs none: no match gives an empty list.
    MissingDefault = ("E0304", "missing-default", Error, "a table has no default");
    /// A block lacks a clause it needs: a decision without `placement` or `candidates`, a
    /// ranking without `score`, an experiment without `salt`.
    ///
    /// ```policy
    /// ranking home_rank for offer: Offer {
    ///   boost welcome: 1.5 when offer.tags contains "welcome"
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0305]: ranking `home_rank` has no `score`
    /// ```
    ///
    /// Fix: add the missing clause (`score offer.priority * 10.0 + offer.margin`). The clauses
    /// each block takes are listed in `docs/language.md`.
    MissingClause = ("E0305", "missing-clause", Error, "a required clause is missing");
    /// A clause that may appear once in a block appears twice.
    ///
    /// ```policy
    /// decision home_hero {
    ///   placement "home.hero"
    ///   candidates home_offers
    ///   max 3
    ///   max 5
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0306]: `max` appears twice in decision `home_hero`
    /// ```
    ///
    /// Fix: keep one. Clauses that set one thing (`placement`, `max`, `ttl`, `score`, `salt`,
    /// `hit`, `default`, a test's `now` and `profile`, …) appear once; lists such as rules,
    /// boosts, variants, rows, `catalog`, `seen` and `expect` may repeat.
    DuplicateClause = ("E0306", "duplicate-clause", Error, "a clause appears more than once");
    /// A setting that must be positive or within a range is not.
    ///
    /// A decision that may show no offers, a cap that allows no impressions or a zero-length
    /// window is almost always a typo, and would make the placement serve only its fallback.
    ///
    /// ```policy
    /// decision home_hero {
    ///   placement "home.hero"
    ///   candidates home_offers
    ///   max 0
    ///   cap offer 0 per 7d
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0307]: `max` must be at least 1
    /// ```
    ///
    /// Fix: use a positive count and a positive duration. To stop serving a placement, make its
    /// eligibility rules remove every candidate, so the fallback is served and explanations say
    /// why.
    InvalidValue = ("E0307", "invalid-value", Error, "a setting is out of range");
    /// A table cell is not a constant.
    ///
    /// Cells compare a column against literals, enum variants and `const`s. Because they are
    /// constants, the checker can prove that rows of a `hit unique` table do not overlap and
    /// find rows of a `hit first` table that can never be chosen.
    ///
    /// ```policy
    /// table margin_band(offer: Offer) -> String {
    ///   hit first
    ///   given offer.margin
    ///   row >= profile.lifetime_value => "high"
    ///   default "low"
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0308]: table cells must be constants
    /// ```
    ///
    /// Fix: move the varying value into a `given` column (for example `given offer.margin -
    /// profile.lifetime_value` with `row >= 0.0`), or name the threshold with a `const`.
    NonConstantCell = ("E0308", "non-constant-cell", Error, "a table cell is not a constant");
    /// A row has a different number of cells than the table has `given` columns.
    ///
    /// ```policy
    /// table welcome_discount -> Float {
    ///   hit first
    ///   given profile.tier, profile.lifecycle
    ///   row Premium => 0.20
    ///   default 0.0
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0309]: row has 1 cell, but the table has 2 columns
    /// ```
    ///
    /// Fix: give the row one cell per column, using `_` for columns it does not care about:
    /// `row Premium, _ => 0.20`.
    WrongCellCount = ("E0309", "wrong-cell-count", Error, "a row has the wrong number of cells");
    /// A decision's candidates are records of a schema without an `id: String` field.
    ///
    /// A decision returns the ids of the offers it chose, and caps, impressions, fallbacks and
    /// the audit log all refer to offers by id.
    ///
    /// ```policy
    /// schema Banner { title: String }
    ///
    /// eligibility banners for banner: Banner { require has_title: banner.title != "" }
    ///
    /// decision home_banner { placement "home.banner" candidates banners }
    /// ```
    ///
    /// ```text
    /// error[E0310]: `Banner` has no `id: String` field, so it cannot be a candidate
    /// ```
    ///
    /// Fix: add `id: String` to the schema, holding the catalog id.
    CandidateWithoutId = ("E0310", "candidate-without-id", Error, "a candidate schema has no `id: String` field");
    /// A decision's ranking ranks a different schema than its candidates are.
    ///
    /// ```policy
    /// eligibility home_offers for offer: Offer { ... }
    /// ranking content_rank for item: Content { score item.priority }
    ///
    /// decision home_hero {
    ///   placement "home.hero"
    ///   candidates home_offers
    ///   rank content_rank
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0311]: `content_rank` ranks `Content`, but the candidates are `Offer`
    /// ```
    ///
    /// Fix: use a ranking declared `for` the same schema as the eligibility block, or write
    /// one.
    CandidateTypeMismatch = ("E0311", "candidate-type-mismatch", Error, "a ranking and its candidates have different types");
    /// A value that exists only inside `test` blocks is used in a policy.
    ///
    /// In a test, a decision's name stands for its result (`home_hero.first`, `.offers`,
    /// `.variant`, `.fallback`) and an eligibility block's name for its `eligible` and
    /// `removed` lists. Policies cannot use decision results: decisions do not depend on each
    /// other.
    ///
    /// ```policy
    /// segment saw_welcome = home_hero.first == "welcome-10"
    /// ```
    ///
    /// ```text
    /// error[E0312]: the result of decision `home_hero` is only available in tests
    /// ```
    ///
    /// Fix: express the condition directly over `profile`, `context` and catalog fields, or
    /// move the check into a test's `expect`.
    TestOnly = ("E0312", "test-only", Error, "a value that exists only in tests");
    /// A test clause is malformed: a catalog that is not a list of records, a second `profile`,
    /// a `now` that is not a timestamp.
    ///
    /// ```policy
    /// test "new customer" {
    ///   profile base_profile
    ///   profile base_profile with { lifecycle: New }
    ///   catalog demo_offers
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0313]: a test has one `profile`
    /// ```
    ///
    /// Fix: keep one `profile` (combine them with `base_profile with { lifecycle: New }`), give
    /// `catalog` a `List` of records (repeat `catalog` for several schemas), and `now` a
    /// timestamp such as `@2026-11-24T10:00:00Z`.
    InvalidTestClause = ("E0313", "invalid-test-clause", Error, "a test clause is malformed");
    /// Two parameters of a function or table share a name, or a quantifier variable shadows
    /// one.
    ///
    /// ```policy
    /// fn blend(a: Float, a: Float) -> Float = a * 0.5
    /// fn any_tag(tag: String) -> Bool = any tag in profile.interests: tag == "shoes"
    /// ```
    ///
    /// ```text
    /// error[E0314]: parameter `a` is declared twice
    /// ```
    ///
    /// Fix: give each parameter and quantifier variable its own name (`fn blend(a: Float, b:
    /// Float)`, `any interest in profile.interests: interest == tag`).
    DuplicateParameter = ("E0314", "duplicate-parameter", Error, "two parameters share a name");
    /// Two experiments of one layer take overlapping slices of it.
    ///
    /// A layer makes experiments mutually exclusive: each experiment takes a slice of the
    /// layer's subjects (`layer homepage 0% to 50%`), and a subject is enrolled only in the
    /// experiment whose slice holds its bucket. Overlapping slices would put some subjects in
    /// both experiments, so their results would contaminate each other.
    ///
    /// ```policy
    /// experiment hero_copy {
    ///   salt "hero-copy-2026-11"
    ///   layer homepage 0% to 60%
    ///   variant control 50%
    ///   variant urgent 50%
    /// }
    ///
    /// experiment hero_layout {
    ///   salt "hero-layout-2026-11"
    ///   layer homepage 50% to 100%
    ///   variant grid 50%
    ///   variant carousel 50%
    /// }
    /// ```
    ///
    /// ```text
    /// error[E0315]: experiments `hero_copy` and `hero_layout` both take 50% to 60% of layer `homepage`
    /// ```
    ///
    /// Fix: give each experiment its own slice (`0% to 50%` and `50% to 100%`); the help names
    /// a free slice when there is one. Slices are half-open, so `0% to 50%` and `50% to 100%`
    /// do not overlap.
    OverlappingLayerSlices = ("E0315", "overlapping-layer-slices", Error, "two experiments of a layer take overlapping slices");

    // ---- warnings -------------------------------------------------------------------------
    /// A segment that no decision, rule, ranking, table, other segment or test uses.
    ///
    /// An unused segment is usually a definition that was meant to be wired into a rule and
    /// never was, or one left behind after a change. It costs nothing at decide time, but
    /// readers assume it matters.
    ///
    /// ```policy
    /// segment lapsed = profile.lifecycle == Lifecycle.Lapsed
    /// ```
    ///
    /// ```text
    /// warning[W0001]: segment `lapsed` is never used
    /// ```
    ///
    /// Fix: use it where it was meant to apply (`deny lapsed_only: lapsed because "…"`), cover
    /// it with a test (`expect lapsed`), or delete it.
    UnusedSegment = ("W0001", "unused-segment", Warning, "a segment is never used");
    /// A rule's condition is always false, whatever the customer, context and candidate.
    ///
    /// A `deny` that never holds removes nothing, and a `require` that never holds removes
    /// every candidate. Either way the rule almost certainly does not say what was meant; a
    /// contradiction such as `and` written for `or` is the usual cause.
    ///
    /// ```policy
    /// deny mid_priority: offer.priority > 10 and offer.priority < 5
    /// ```
    ///
    /// ```text
    /// warning[W0002]: the condition of rule `mid_priority` is always false
    /// ```
    ///
    /// Fix: correct the condition (here perhaps `offer.priority > 10 or offer.priority < 5`),
    /// or remove the rule.
    RuleNeverFires = ("W0002", "rule-never-fires", Warning, "a rule's condition is always false");
    /// Under `hit first`, an earlier row matches everything this row matches, so it is never
    /// chosen.
    ///
    /// ```policy
    /// table welcome_discount -> Float {
    ///   hit first
    ///   given profile.tier, profile.lifecycle
    ///   row Premium, _   => 0.10
    ///   row Premium, New => 0.20
    ///   default 0.0
    /// }
    /// ```
    ///
    /// ```text
    /// warning[W0003]: row 2 can never be chosen: row 1 matches everything it matches
    /// ```
    ///
    /// Fix: put the more specific row first, or delete the row that can never apply.
    UnreachableRow = ("W0003", "unreachable-row", Warning, "a table row can never be chosen");
    /// An imported name that nothing in the file uses.
    ///
    /// ```policy
    /// package retail.home
    ///
    /// import retail.schema.{Profile, Offer, Tier}
    /// ```
    ///
    /// ```text
    /// warning[W0004]: unused import `Tier`
    /// ```
    ///
    /// Fix: remove the name from the import (or the whole import line when nothing from it is
    /// used).
    UnusedImport = ("W0004", "unused-import", Warning, "an import is never used");
    /// `??`, `exists` or `if let` on a value that is never missing.
    ///
    /// The check does nothing, and it suggests to readers that the value may be missing, which
    /// the schema says it cannot be.
    ///
    /// ```policy
    /// segment german = (profile.country ?? "") == "DE"   // country: String
    /// ```
    ///
    /// ```text
    /// warning[W0005]: `profile.country` is never missing: `??` has no effect
    /// ```
    ///
    /// Fix: drop the handling (`profile.country == "DE"`). If the value really can be missing,
    /// make the field optional in the schema (`country: String?`).
    UnnecessaryHandling = ("W0005", "unnecessary-handling", Warning, "an optional check on a value that is never missing");
    /// A rule's condition is always true: a `require` that never removes anything, or a `deny`
    /// that removes every candidate.
    ///
    /// ```policy
    /// require any_priority: offer.priority >= 0 or offer.priority < 0
    /// ```
    ///
    /// ```text
    /// warning[W0006]: the condition of rule `any_priority` is always true
    /// ```
    ///
    /// Fix: correct the condition, or remove a `require` that is always true. A `deny` that is
    /// always true leaves the placement serving only its fallback; if that is the intent, say
    /// so with a comment and a test.
    RuleAlwaysFires = ("W0006", "rule-always-fires", Warning, "a rule's condition is always true");
    /// A function, table, eligibility block or ranking that nothing uses.
    ///
    /// ```policy
    /// ranking old_rank for offer: Offer {
    ///   score offer.priority
    /// }
    /// ```
    ///
    /// ```text
    /// warning[W0007]: ranking `old_rank` is never used
    /// ```
    ///
    /// Fix: use it (for example `rank old_rank` in a decision), or delete it. Version history
    /// keeps the old definition if you need it back.
    UnusedDefinition = ("W0007", "unused-definition", Warning, "a definition is never used");
    /// A test records `seen` impressions where no decision counts them.
    ///
    /// `seen "offer" N times` records impressions at the test's context placement and channel,
    /// and a decision's caps count only impressions at its own placement. A test without a
    /// `context` records them at placement `""`, and a context naming a placement no decision
    /// serves records them where no cap looks: the test passes or fails for the wrong reason.
    ///
    /// ```policy
    /// test "the hero stops after three views" {
    ///   profile base_profile
    ///   catalog demo_offers
    ///   seen "welcome-10" 3 times 1d ago
    ///   expect home_hero.first != "welcome-10"
    /// }
    /// ```
    ///
    /// ```text
    /// warning[W0008]: these impressions never count towards a cap: the test sets no `context`, so they are recorded at placement ""
    /// ```
    ///
    /// Fix: add `context { channel: Web, placement: "home.hero" }`, naming the placement of the
    /// decision whose caps the test is about.
    UncountedImpressions = ("W0008", "uncounted-impressions", Warning, "test impressions are recorded where no cap counts them");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for c in Code::ALL {
            let i = c.info();
            assert!(ids.insert(i.id), "duplicate id {}", i.id);
            assert!(names.insert(i.name), "duplicate name {}", i.name);
            assert!(i.id.len() == 5 && (i.id.starts_with('E') || i.id.starts_with('W')));
            assert!(i
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
            assert_eq!(i.severity == Severity::Warning, i.id.starts_with('W'));
            assert_eq!(Code::lookup(i.id), Some(*c));
            assert!(!i.explanation.is_empty());
        }
    }
}
