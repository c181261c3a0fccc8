//! Reads a migration module's top-level `revision` / `down_revision` the way
//! Python's `ast` does, without executing anything.
//!
//! The reference package decodes the file with `Path.read_text(encoding="utf-8")`,
//! runs `ast.parse` on it and looks only at the statements of the module body.
//! [`decode_source`] reproduces the decoding step and [`parse_module`] the rest, using
//! ruff's parser. Whenever ruff's answer could differ from CPython's, [`parse_module`]
//! does not guess: it returns [`ParseOutcome::Delegate`] and the caller hands the file
//! to CPython's own `ast`, which then either parses it or raises the real error. The
//! native path is therefore an accelerator for ordinary migration files, never a second
//! opinion on what Python accepts.

use std::borrow::Cow;
use std::fmt;

use ruff_python_ast::str_prefix::AnyStringPrefix;
use ruff_python_ast::token::{Token, TokenKind};
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{
    ConversionFlag, Expr, InterpolatedStringElement, Mod, Pattern, PatternKeyword, PythonVersion,
    Stmt, StringFlags, UnaryOp,
};
use ruff_python_parser::{Mode, ParseOptions};

/// Largest source, in bytes, that [`parse_module`] parses itself; larger files are
/// delegated. Real migrations are a few KiB. The cap also bounds how deep an AST can
/// nest (at most one level per byte), and so the stack needed to drop it.
pub const MAX_NATIVE_SOURCE_BYTES: usize = 256 * 1024;

/// Deepest nesting (of brackets, or of statements, expressions and patterns in the AST)
/// that [`parse_module`] accepts. CPython refuses 200 nested brackets, 100 indentation
/// levels and roughly 3000 nested expressions (a limit that moves with
/// `sys.setrecursionlimit`), so anything deeper than this is left to CPython.
const MAX_NATIVE_NESTING: usize = 100;

/// Oldest and newest interpreter versions whose grammar ruff models for this crate.
const OLDEST_PYTHON: PythonVersion = PythonVersion::PY311;
const NEWEST_PYTHON: PythonVersion = PythonVersion::PY314;

/// What a migration module declares at top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Value of the last top-level `revision = "<str literal>"`, if it is a plain string.
    pub revision: Option<String>,
    /// How the last top-level `down_revision` assignment reads.
    pub down_revision: DownRevision,
}

/// The shape of `down_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownRevision {
    /// A call to `get_down_revision(...)` or `<anything>.get_down_revision(...)`.
    Dynamic,
    /// Hardcoded parents: empty for `None`/absent/anything not a string literal,
    /// one for a string, several for a tuple or list of strings (a merge migration).
    Static(Vec<String>),
}

/// Why a migration file's bytes are not Python source text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The bytes are not valid UTF-8, the encoding the reference reads migrations in.
    /// `offset` is the index, in the original bytes, of the first byte that does not
    /// start a valid sequence (Python's `UnicodeDecodeError.start`).
    #[error("invalid UTF-8 at byte offset {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The text contains a NUL character, which CPython's parser rejects
    /// ("source code string cannot contain null bytes").
    #[error("NUL byte at byte offset {offset}")]
    NulByte {
        /// Byte offset of the first NUL.
        offset: usize,
    },
}

/// Version of the Python interpreter whose `ast` the result must agree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    /// `sys.version_info.major`.
    pub major: u8,
    /// `sys.version_info.minor`.
    pub minor: u8,
}

/// Result of [`parse_module`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseOutcome {
    /// The module parsed, and this is exactly what CPython's `ast` would have yielded.
    Parsed(ModuleInfo),
    /// The caller must parse the module with CPython's `ast` instead.
    Delegate(DelegateReason),
}

/// Why [`parse_module`] left a module to CPython.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DelegateReason {
    /// The source exceeds [`MAX_NATIVE_SOURCE_BYTES`].
    TooLarge {
        /// Length of the source in bytes.
        bytes: usize,
    },
    /// The source contains NUL, which CPython rejects with its own message.
    NulByte,
    /// The source starts with U+FEFF, which `ast.parse` rejects in a `str`.
    ByteOrderMark,
    /// The interpreter is outside the versions whose grammar ruff models here.
    UnsupportedPython(PyVersion),
    /// The source has a syntax error, found by ruff or by the checks here for what ruff
    /// accepts and CPython does not. The message is ruff's (or ours); CPython reports
    /// its own.
    SyntaxError(String),
    /// The syntax is valid Python, but not in the running interpreter's version.
    UnsupportedSyntax(String),
    /// Brackets or the AST nest deeper than CPython reliably accepts.
    TooDeeplyNested,
    /// A string literal has an escape only CPython can judge: one it warns about (an
    /// invalid escape, an octal escape above `\377`; under `-W error` the warning is a
    /// `SyntaxError`), or a `\N{...}` name, which depends on the Unicode version.
    UncertainEscape,
    /// An identifier is not ASCII: which characters are allowed depends on the Unicode
    /// version, and CPython NFKC-normalises them.
    NonAsciiName,
    /// An f-string (or t-string) uses a construct CPython may refuse and ruff accepts:
    /// a replacement field nested two format specs deep, a bare starred expression, or
    /// whitespace after a `!r`-style conversion.
    InterpolationEdgeCase,
    /// A line is indented with tabs: CPython's `TabError` rules are not ruff's.
    TabIndentation,
    /// `return`, `break` or `continue` inside `finally`, which CPython 3.14 warns about
    /// (PEP 765).
    ExitInFinally,
    /// A number is directly followed by a name or keyword (`1if x else 2`), which CPython
    /// warns about.
    NumberBeforeName,
    /// A string literal that makes up `revision` or `down_revision` contains a
    /// backslash: its decoding is left to CPython.
    EscapeInValue,
}

impl fmt::Display for DelegateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes } => write!(
                f,
                "source is {bytes} bytes, over the {MAX_NATIVE_SOURCE_BYTES}-byte native limit"
            ),
            Self::NulByte => f.write_str("source contains a NUL byte"),
            Self::ByteOrderMark => f.write_str("source starts with a byte order mark"),
            Self::UnsupportedPython(v) => {
                write!(f, "Python {}.{} is not modelled natively", v.major, v.minor)
            }
            Self::SyntaxError(msg) => write!(f, "syntax error: {msg}"),
            Self::UnsupportedSyntax(msg) => write!(f, "unsupported syntax: {msg}"),
            Self::TooDeeplyNested => f.write_str("source nests too deeply"),
            Self::UncertainEscape => {
                f.write_str("a string literal has an escape only CPython can judge")
            }
            Self::NonAsciiName => f.write_str("an identifier is not ASCII"),
            Self::InterpolationEdgeCase => {
                f.write_str("an f-string uses a construct left to CPython")
            }
            Self::ExitInFinally => f.write_str("`return`, `break` or `continue` in `finally`"),
            Self::TabIndentation => f.write_str("a line is indented with tabs"),
            Self::NumberBeforeName => f.write_str("a number is directly followed by a name"),
            Self::EscapeInValue => {
                f.write_str("revision or down_revision literal contains a backslash")
            }
        }
    }
}

/// Decodes a migration file's bytes the way `Path.read_text(encoding="utf-8")` does,
/// for [`parse_module`].
///
/// Newlines are translated like Python's universal-newlines mode (`\r\n` and a lone
/// `\r` become `\n`). Unlike `read_text`, one leading UTF-8 byte order mark is
/// stripped, as Python's import system (and so Alembic) does; the reference instead
/// fails to parse such a file.
///
/// # Errors
///
/// [`SourceError::InvalidUtf8`] where `read_text` raises `UnicodeDecodeError`, and
/// [`SourceError::NulByte`] where `ast.parse` would refuse the text.
pub fn decode_source(bytes: &[u8]) -> Result<String, SourceError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let (skipped, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, bytes),
    };
    let text = std::str::from_utf8(body).map_err(|e| SourceError::InvalidUtf8 {
        offset: skipped + e.valid_up_to(),
    })?;
    if let Some(i) = text.find('\0') {
        return Err(SourceError::NulByte {
            offset: skipped + i,
        });
    }
    Ok(normalize_newlines(text).into_owned())
}

/// Universal newlines: `\r\n` and lone `\r` become `\n`. CPython's tokenizer does the
/// same to a `str` given to `ast.parse`, string literals included.
fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('\r') {
        out.push_str(before);
        out.push('\n');
        rest = after.strip_prefix('\n').unwrap_or(after);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Reads the top-level `revision` and `down_revision` of a migration module, as
/// `ast.parse(source)` on the given interpreter version would expose them, or says why
/// CPython must do it instead.
///
/// `source` is text as from [`decode_source`] (any `\r` is translated here as well).
///
/// Must run on a thread with [`crate::parallel::WORKER_STACK_BYTES`] of stack (a pool
/// worker): ruff grows its own stack while parsing, but dropping (and walking) the AST
/// recurses once per nesting level, and a source within [`MAX_NATIVE_SOURCE_BYTES`]
/// nests at most that many levels.
#[must_use]
pub fn parse_module(source: &str, python: PyVersion) -> ParseOutcome {
    match parse_module_inner(source, python) {
        Ok(info) => ParseOutcome::Parsed(info),
        Err(reason) => ParseOutcome::Delegate(reason),
    }
}

fn parse_module_inner(source: &str, python: PyVersion) -> Result<ModuleInfo, DelegateReason> {
    if source.len() > MAX_NATIVE_SOURCE_BYTES {
        return Err(DelegateReason::TooLarge {
            bytes: source.len(),
        });
    }
    if source.contains('\0') {
        return Err(DelegateReason::NulByte);
    }
    // ruff skips a leading BOM; CPython's `ast.parse` of a `str` rejects it.
    if source.starts_with('\u{feff}') {
        return Err(DelegateReason::ByteOrderMark);
    }
    let target = PythonVersion {
        major: python.major,
        minor: python.minor,
    };
    if !(OLDEST_PYTHON..=NEWEST_PYTHON).contains(&target) {
        return Err(DelegateReason::UnsupportedPython(python));
    }
    let source = normalize_newlines(source);
    let source: &str = &source;
    if has_tab_indentation(source) {
        return Err(DelegateReason::TabIndentation);
    }

    let options = ParseOptions::from(Mode::Module).with_target_version(target);
    let parsed = ruff_python_parser::parse_unchecked(source, options);
    if let Some(error) = parsed.errors().first() {
        return Err(DelegateReason::SyntaxError(error.error.to_string()));
    }
    if let Some(error) = parsed.unsupported_syntax_errors().first() {
        return Err(DelegateReason::UnsupportedSyntax(error.to_string()));
    }
    check_tokens(parsed.tokens(), source)?;
    let Mod::Module(module) = parsed.syntax() else {
        // Mode::Module always yields a module; treat anything else as unparseable.
        return Err(DelegateReason::SyntaxError("not a module".to_owned()));
    };

    let mut probe = AstProbe::new(source, parsed.tokens());
    probe.visit_body(&module.body);
    if let Some(reason) = probe.refused {
        return Err(reason);
    }

    let (revision, down_revision) = last_assignments(&module.body);
    let revision = match revision {
        Some(expr) => str_literal(expr, source)?.map(str::to_owned),
        None => None,
    };
    let down_revision = match down_revision {
        Some(expr) if is_get_down_revision_call(expr) => DownRevision::Dynamic,
        Some(expr) => DownRevision::Static(static_parents(expr, source)?),
        None => DownRevision::Static(Vec::new()),
    };
    Ok(ModuleInfo {
        revision,
        down_revision,
    })
}

/// The values last assigned to `revision` and `down_revision` by module-level
/// `name = value` (any target of a chained assignment) or `name: T = value`.
fn last_assignments(body: &[Stmt]) -> (Option<&Expr>, Option<&Expr>) {
    let mut revision = None;
    let mut down_revision = None;
    for stmt in body {
        let (targets, value) = match stmt {
            Stmt::Assign(assign) => (assign.targets.as_slice(), &*assign.value),
            Stmt::AnnAssign(assign) => match &assign.value {
                Some(value) => (std::slice::from_ref(&*assign.target), &**value),
                None => continue,
            },
            _ => continue,
        };
        for target in targets {
            let Expr::Name(name) = target else { continue };
            match name.id.as_str() {
                "revision" => revision = Some(value),
                "down_revision" => down_revision = Some(value),
                _ => {}
            }
        }
    }
    (revision, down_revision)
}

/// The value of a `str` literal (implicitly concatenated parts joined), `None` for any
/// other expression, f-strings and bytes included.
fn str_literal<'a>(expr: &'a Expr, source: &str) -> Result<Option<&'a str>, DelegateReason> {
    let Expr::StringLiteral(literal) = expr else {
        return Ok(None);
    };
    // Without a backslash a literal's value is its source text, so ruff's decoding
    // cannot disagree with CPython's.
    if literal
        .value
        .iter()
        .any(|part| source[part.range].contains('\\'))
    {
        return Err(DelegateReason::EscapeInValue);
    }
    Ok(Some(literal.value.to_str()))
}

/// The parents a non-dynamic `down_revision` names: a string, or the string elements of
/// a tuple or list (other elements are skipped).
fn static_parents(expr: &Expr, source: &str) -> Result<Vec<String>, DelegateReason> {
    if let Some(single) = str_literal(expr, source)? {
        return Ok(vec![single.to_owned()]);
    }
    let elements = match expr {
        Expr::Tuple(tuple) => &tuple.elts,
        Expr::List(list) => &list.elts,
        _ => return Ok(Vec::new()),
    };
    let mut parents = Vec::new();
    for element in elements {
        if let Some(value) = str_literal(element, source)? {
            parents.push(value.to_owned());
        }
    }
    Ok(parents)
}

/// `get_down_revision(...)` or `<anything>.get_down_revision(...)`.
fn is_get_down_revision_call(expr: &Expr) -> bool {
    let Expr::Call(call) = expr else {
        return false;
    };
    match &*call.func {
        Expr::Name(name) => name.id.as_str() == "get_down_revision",
        Expr::Attribute(attribute) => attribute.attr.as_str() == "get_down_revision",
        _ => false,
    }
}

/// Token-level checks for what CPython's tokenizer refuses or warns about but ruff
/// accepts silently: bracket depth, questionable escapes, non-ASCII identifiers and
/// numbers glued to names.
fn check_tokens(tokens: &[Token], source: &str) -> Result<(), DelegateReason> {
    let mut depth = 0usize;
    let mut previous_number_end = None;
    for token in tokens {
        let (kind, range) = token.as_tuple();
        let is_word = kind == TokenKind::Name || kind.is_keyword();
        if is_word && previous_number_end == Some(range.start()) {
            return Err(DelegateReason::NumberBeforeName);
        }
        if is_word && !source[range].is_ascii() {
            return Err(DelegateReason::NonAsciiName);
        }
        previous_number_end = None;
        match kind {
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                depth += 1;
                if depth > MAX_NATIVE_NESTING {
                    return Err(DelegateReason::TooDeeplyNested);
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                depth = depth.saturating_sub(1);
            }
            TokenKind::Int | TokenKind::Float | TokenKind::Complex => {
                previous_number_end = Some(range.end());
            }
            TokenKind::String | TokenKind::FStringMiddle | TokenKind::TStringMiddle => {
                if let Some(flags) = token.string_flags() {
                    let prefix = flags.prefix();
                    if !prefix.is_raw()
                        && has_uncertain_escape(
                            &source[range],
                            matches!(prefix, AnyStringPrefix::Bytes(_)),
                        )
                    {
                        return Err(DelegateReason::UncertainEscape);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a line that holds code is indented with a tab. CPython raises `TabError`
/// when indentation compares differently at tab sizes 8 and 1, which ruff does not
/// always check. Lines inside strings or brackets count too: rare enough not to matter.
fn has_tab_indentation(source: &str) -> bool {
    source.split('\n').any(|line| {
        let code = line.trim_start_matches([' ', '\t', '\x0c']);
        let indentation = &line[..line.len() - code.len()];
        indentation.contains('\t') && !code.is_empty() && !code.starts_with('#')
    })
}

/// Whether non-raw literal text has an escape only CPython can judge: an unknown escape
/// character (including `\u`, `\U` in bytes), an octal escape above `\377`, or `\N`,
/// whose names depend on the Unicode version. A backslash that ends the text is the
/// end of an f-string part, escaping the `{` after it. Malformed escapes (`\x4`) are
/// syntax errors, which ruff reports itself.
fn has_uncertain_escape(text: &str, bytes: bool) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        let Some(escaped) = chars.next() else {
            return true;
        };
        match escaped {
            '\n' | '\\' | '\'' | '"' | 'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | 'x' => {}
            'u' | 'U' if !bytes => {}
            '0'..='7' => {
                let mut value = escaped.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.clone().next().and_then(|d| d.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            chars.next();
                        }
                        None => break,
                    }
                }
                if value > 0o377 {
                    return true;
                }
            }
            _ => return true,
        }
    }
    false
}

/// Walks the AST for what ruff accepts and CPython may not: nesting deeper than
/// [`MAX_NATIVE_NESTING`] (without itself recursing any deeper than that), and f-string
/// replacement fields CPython refuses.
struct AstProbe<'s> {
    source: &'s str,
    tokens: &'s [Token],
    depth: usize,
    /// How many format specs enclose the current f-string element.
    format_spec_depth: usize,
    /// How many `finally` blocks enclose the current statement.
    finally_depth: usize,
    /// The `yield` that is the whole value of the statement being walked, if any:
    /// the one place an unparenthesised `yield` is certainly valid.
    statement_yield: Option<*const Expr>,
    refused: Option<DelegateReason>,
}

impl<'s> AstProbe<'s> {
    fn new(source: &'s str, tokens: &'s [Token]) -> Self {
        Self {
            source,
            tokens,
            depth: 0,
            format_spec_depth: 0,
            finally_depth: 0,
            statement_yield: None,
            refused: None,
        }
    }

    /// What ruff parses leniently in `expr` and CPython rejects, if anything.
    ///
    /// ruff parses `yield` like an atom and lets an operand that starts with `(` run on
    /// into lower-precedence operators, so it accepts `yield % x`, `f(yield)`,
    /// `[*(a) or b]`, `{**(a) or b}` and `((a) := 1)`.
    fn missed_syntax_error(&self, expr: &Expr) -> Option<&'static str> {
        match expr {
            // Only a whole statement value is sure to be valid; parenthesised yields
            // elsewhere are too rare to be worth telling apart.
            Expr::Yield(_) | Expr::YieldFrom(_)
                if self.statement_yield != Some(std::ptr::from_ref(expr)) =>
            {
                Some("`yield` inside an expression")
            }
            // A parenthesised operand ends before the starred expression does. (Call
            // arguments do accept any operand; they are delegated all the same.)
            Expr::Starred(starred)
                if loose_operand_end(&starred.value) == Some(usize::from(starred.range.end())) =>
            {
                Some("unparenthesised operand of `*`")
            }
            Expr::Dict(dict)
                if dict.items.iter().any(|item| {
                    item.key.is_none()
                        && loose_operand_end(&item.value)
                            .is_some_and(|end| !self.closing_paren_at(end))
                }) =>
            {
                Some("unparenthesised operand of `**`")
            }
            Expr::Named(named)
                if matches!(&*named.target,
                    Expr::Name(name) if name.range.start() != named.range.start()) =>
            {
                Some("parenthesised target of `:=`")
            }
            _ => None,
        }
    }

    /// Whether the first token at or after `offset`, comments and line breaks
    /// aside, is `)`.
    fn closing_paren_at(&self, offset: usize) -> bool {
        let first = self
            .tokens
            .partition_point(|token| usize::from(token.as_tuple().1.start()) < offset);
        self.tokens
            .iter()
            .skip(first)
            .map(Token::kind)
            .find(|kind| !matches!(kind, TokenKind::Comment | TokenKind::NonLogicalNewline))
            == Some(TokenKind::Rpar)
    }

    fn enter(&mut self, walk: impl FnOnce(&mut Self)) {
        if self.refused.is_some() {
            return;
        }
        self.depth += 1;
        if self.depth > MAX_NATIVE_NESTING {
            self.refused = Some(DelegateReason::TooDeeplyNested);
        } else {
            walk(self);
        }
        self.depth -= 1;
    }
}

impl<'a> Visitor<'a> for AstProbe<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        // ruff accepts `try: ... else: ... finally: ...` with no `except`; CPython
        // does not.
        if let Stmt::Try(try_stmt) = stmt {
            if try_stmt.handlers.is_empty() && !try_stmt.orelse.is_empty() {
                self.refused.get_or_insert(DelegateReason::SyntaxError(
                    "`try` with `else` but no `except`".to_owned(),
                ));
                return;
            }
        }
        let value = match stmt {
            Stmt::Expr(stmt) => Some(&*stmt.value),
            Stmt::Assign(stmt) => Some(&*stmt.value),
            Stmt::AugAssign(stmt) => Some(&*stmt.value),
            Stmt::AnnAssign(stmt) => stmt.value.as_deref(),
            _ => None,
        };
        self.statement_yield = value
            .filter(|value| value.is_yield_expr() || value.is_yield_from_expr())
            .map(std::ptr::from_ref);
        match stmt {
            // CPython 3.14 warns about these in `finally` (PEP 765); a loop or a
            // function inside the `finally` would make some of them fine, but they are
            // rare enough to delegate wholesale.
            Stmt::Return(_) | Stmt::Break(_) | Stmt::Continue(_) if self.finally_depth > 0 => {
                self.refused.get_or_insert(DelegateReason::ExitInFinally);
            }
            Stmt::Try(try_stmt) => self.enter(|probe| {
                probe.visit_body(&try_stmt.body);
                for handler in &try_stmt.handlers {
                    probe.visit_except_handler(handler);
                }
                probe.visit_body(&try_stmt.orelse);
                probe.finally_depth += 1;
                probe.visit_body(&try_stmt.finalbody);
                probe.finally_depth -= 1;
            }),
            _ => self.enter(|probe| visitor::walk_stmt(probe, stmt)),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Some(message) = self.missed_syntax_error(expr) {
            self.refused
                .get_or_insert(DelegateReason::SyntaxError(message.to_owned()));
            return;
        }
        self.enter(|probe| visitor::walk_expr(probe, expr));
    }

    fn visit_pattern(&mut self, pattern: &'a Pattern) {
        self.enter(|probe| visitor::walk_pattern(probe, pattern));
    }

    fn visit_pattern_keyword(&mut self, keyword: &'a PatternKeyword) {
        // ruff accepts `case C((a)=1)`; CPython wants a bare name before `=`.
        if keyword.range.start() != keyword.attr.range.start() {
            self.refused.get_or_insert(DelegateReason::SyntaxError(
                "parenthesised keyword in a class pattern".to_owned(),
            ));
            return;
        }
        visitor::walk_pattern_keyword(self, keyword);
    }

    fn visit_interpolated_string_element(&mut self, element: &'a InterpolatedStringElement) {
        let field = match element {
            InterpolatedStringElement::Interpolation(field) => field,
            InterpolatedStringElement::Literal(literal) => {
                // CPython 3.12+ decodes escapes in the format spec of a raw f-string
                // as if it were not raw (and warns about `\d`): leave any backslash in
                // a format spec to CPython.
                if self.format_spec_depth > 0 && self.source[literal.range].contains('\\') {
                    self.refused.get_or_insert(DelegateReason::UncertainEscape);
                }
                return;
            }
        };
        // CPython: "f-string: cannot use starred expression here", "f-string:
        // expressions nested too deeply" (a field inside a format spec inside a format
        // spec; any format spec on an already nested field is left to CPython), and
        // "f-string: expecting '}'" for `{a!r :}`.
        if field.expression.is_starred_expr()
            || (self.format_spec_depth > 0 && field.format_spec.is_some())
            || (field.conversion != ConversionFlag::None
                && has_space_after_conversion(&self.source[field.range]))
        {
            self.refused
                .get_or_insert(DelegateReason::InterpolationEdgeCase);
            return;
        }
        self.visit_expr(&field.expression);
        if let Some(spec) = &field.format_spec {
            self.format_spec_depth += 1;
            for spec_element in &spec.elements {
                self.visit_interpolated_string_element(spec_element);
            }
            self.format_spec_depth -= 1;
        }
    }
}

/// Where an operand that CPython accepts after `*` or `**` (outside calls) only in
/// parentheses ends: a comparison, `and`/`or`, `not`, a conditional, a lambda, `:=` or
/// `yield`. `None` for any other expression.
fn loose_operand_end(expr: &Expr) -> Option<usize> {
    let range = match expr {
        Expr::Compare(e) => e.range,
        Expr::BoolOp(e) => e.range,
        Expr::UnaryOp(e) if e.op == UnaryOp::Not => e.range,
        Expr::If(e) => e.range,
        Expr::Lambda(e) => e.range,
        Expr::Named(e) => e.range,
        Expr::Yield(e) => e.range,
        Expr::YieldFrom(e) => e.range,
        _ => return None,
    };
    Some(usize::from(range.end()))
}

/// Whether a replacement field's text has `!r`, `!s` or `!a` followed by whitespace.
/// Nested strings can make this a false alarm, which only costs a delegation.
fn has_space_after_conversion(field: &str) -> bool {
    field
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'!' && matches!(w[1], b'r' | b's' | b'a') && w[2].is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY311: PyVersion = PyVersion {
        major: 3,
        minor: 11,
    };
    const PY312: PyVersion = PyVersion {
        major: 3,
        minor: 12,
    };

    fn parsed(source: &str) -> ModuleInfo {
        match parse_module(source, PY311) {
            ParseOutcome::Parsed(info) => info,
            ParseOutcome::Delegate(reason) => panic!("delegated ({reason}): {source:?}"),
        }
    }

    fn delegated(source: &str) -> DelegateReason {
        match parse_module(source, PY311) {
            ParseOutcome::Delegate(reason) => reason,
            ParseOutcome::Parsed(info) => panic!("parsed as {info:?}: {source:?}"),
        }
    }

    fn revision(source: &str) -> Option<String> {
        parsed(source).revision
    }

    fn parents(source: &str) -> Vec<String> {
        match parsed(source).down_revision {
            DownRevision::Static(parents) => parents,
            DownRevision::Dynamic => panic!("dynamic: {source:?}"),
        }
    }

    fn info(revision: Option<&str>, down_revision: DownRevision) -> ModuleInfo {
        ModuleInfo {
            revision: revision.map(str::to_owned),
            down_revision,
        }
    }

    fn fixed(parents: &[&str]) -> DownRevision {
        DownRevision::Static(parents.iter().map(|p| (*p).to_owned()).collect())
    }

    /// Runs `parse_module` the way callers must: on a pool worker's stack.
    fn parse_on_big_stack(source: String) -> ParseOutcome {
        crate::parallel::on_worker(move || parse_module(&source, PY311))
            .expect("spawn parser thread")
    }

    #[test]
    fn plain_assignments() {
        assert_eq!(
            parsed("revision = 'abc'\ndown_revision = 'def'\n"),
            info(Some("abc"), fixed(&["def"]))
        );
    }

    #[test]
    fn annotated_assignments() {
        let source = "revision: str = \"abc\"\n\
                      down_revision: Union[str, Sequence[str], None] = \"def\"\n\
                      depends_on: str\n";
        assert_eq!(parsed(source), info(Some("abc"), fixed(&["def"])));
        // Parenthesised targets are not "simple", and still count.
        assert_eq!(revision("(revision): str = 'x'"), Some("x".to_owned()));
        // An annotation without a value assigns nothing.
        assert_eq!(
            revision("revision = 'x'\nrevision: str\n"),
            Some("x".to_owned())
        );
    }

    #[test]
    fn absent_values() {
        assert_eq!(parsed(""), info(None, fixed(&[])));
        assert_eq!(parsed("# comment only"), info(None, fixed(&[])));
        assert_eq!(
            parsed("revision = None\ndown_revision = None\n"),
            info(None, fixed(&[]))
        );
    }

    #[test]
    fn last_assignment_wins() {
        assert_eq!(
            revision("revision = 'a'\nrevision = 'b'\n"),
            Some("b".to_owned())
        );
        assert_eq!(revision("revision = 'a'\nrevision = other\n"), None);
        assert_eq!(
            parents("down_revision = 'a'\ndown_revision = None\n"),
            [""; 0]
        );
        assert_eq!(
            parsed("down_revision = get_down_revision(revision)\ndown_revision = 'x'\n")
                .down_revision,
            fixed(&["x"])
        );
    }

    #[test]
    fn chained_assignment_sets_every_name() {
        assert_eq!(revision("a = revision = 'x'\n"), Some("x".to_owned()));
        assert_eq!(
            parsed("revision = down_revision = 'x'\n"),
            info(Some("x"), fixed(&["x"]))
        );
    }

    #[test]
    fn tuple_and_other_targets_are_ignored() {
        assert_eq!(revision("revision, b = 'x', 'y'\n"), None);
        assert_eq!(revision("(revision, b) = 'x', 'y'\n"), None);
        assert_eq!(revision("[revision] = ['x']\n"), None);
        assert_eq!(revision("self.revision = 'x'\n"), None);
        assert_eq!(revision("revision += 'x'\n"), None);
        assert_eq!(revision("for revision in 'x': pass\n"), None);
        assert_eq!(revision("import revision\n"), None);
        assert_eq!(revision("(revision := 'x')\n"), None);
    }

    #[test]
    fn nested_assignments_are_ignored() {
        for source in [
            "if True:\n    revision = 'x'\n",
            "def f():\n    revision = 'x'\n",
            "class C:\n    revision = 'x'\n",
            "try:\n    revision = 'x'\nexcept Exception:\n    pass\n",
            "with a:\n    revision = 'x'\n",
        ] {
            assert_eq!(revision(source), None, "{source:?}");
        }
        assert_eq!(
            revision("revision = 'top'\nif True:\n    revision = 'nested'\n"),
            Some("top".to_owned())
        );
    }

    #[test]
    fn string_forms() {
        assert_eq!(
            revision("revision = 'a' \"b\" '''c'''\n"),
            Some("abc".to_owned())
        );
        assert_eq!(
            revision("revision = ('a'\n    'b')\n"),
            Some("ab".to_owned())
        );
        assert_eq!(revision("revision = u'x'\n"), Some("x".to_owned()));
        assert_eq!(revision("revision = 'a' u'b'\n"), Some("ab".to_owned()));
        assert_eq!(revision("revision = r'x'\n"), Some("x".to_owned()));
        assert_eq!(revision("revision = ('x')\n"), Some("x".to_owned()));
        assert_eq!(revision("revision = ((('x')))\n"), Some("x".to_owned()));
        assert_eq!(revision("revision = ''\n"), Some(String::new()));
        assert_eq!(revision("revision = 'é中😀'\n"), Some("é中😀".to_owned()));
        assert_eq!(revision("revision = '''a\nb'''\n"), Some("a\nb".to_owned()));
    }

    #[test]
    fn non_str_values_are_none() {
        for value in [
            "b'x'",
            "f'x'",
            "f'{x}'",
            "'a' f'b'",
            "'a' + 'b'",
            "('x',)",
            "1",
            "None",
            "x",
            "str('x')",
            "...",
        ] {
            assert_eq!(revision(&format!("revision = {value}\n")), None, "{value}");
        }
    }

    #[test]
    fn tuple_and_list_parents() {
        assert_eq!(parents("down_revision = ('a', 'b')\n"), ["a", "b"]);
        assert_eq!(parents("down_revision = ['a', 'b']\n"), ["a", "b"]);
        assert_eq!(parents("down_revision = 'a', 'b'\n"), ["a", "b"]);
        assert_eq!(parents("down_revision = ('a',)\n"), ["a"]);
        assert_eq!(parents("down_revision = ()\n"), [""; 0]);
        assert_eq!(
            parents("down_revision = ('a', None, 1, ('b',), *c, f'd', b'e', 'f' 'g', ['h'])\n"),
            ["a", "fg"]
        );
        // A set is neither a tuple nor a list.
        assert_eq!(parents("down_revision = {'a'}\n"), [""; 0]);
    }

    #[test]
    fn other_down_revisions_have_no_parents() {
        for value in [
            "None",
            "revision",
            "REVISIONS[0]",
            "other(revision)",
            "get_down_revisions(revision)",
            "get_down_revision",
            "agr.get_down_revision",
            "f'x'",
            "b'x'",
        ] {
            assert_eq!(
                parents(&format!("down_revision = {value}\n")),
                [""; 0],
                "{value}"
            );
        }
    }

    #[test]
    fn get_down_revision_calls_are_dynamic() {
        for value in [
            "get_down_revision(revision)",
            "get_down_revision()",
            "get_down_revision(revision, key=1)",
            "agr.get_down_revision(revision)",
            "a.b.c.get_down_revision(revision)",
            "f().get_down_revision(revision)",
        ] {
            let source = format!("revision = 'r'\ndown_revision: str = {value}\n");
            assert_eq!(
                parsed(&source),
                info(Some("r"), DownRevision::Dynamic),
                "{value}"
            );
        }
        // A call of a call is a call of something else.
        assert_eq!(
            parents("down_revision = get_down_revision(revision)()\n"),
            [""; 0]
        );
    }

    #[test]
    fn newlines_are_universal() {
        assert_eq!(
            parsed("revision = 'a'\r\ndown_revision = '''x\r\ny'''\r\n"),
            info(Some("a"), fixed(&["x\ny"]))
        );
        assert_eq!(
            parsed("revision = '''a\rb'''\rdown_revision = 'c'\r"),
            info(Some("a\nb"), fixed(&["c"]))
        );
        assert_eq!(
            decode_source(b"a\r\nb\rc\n\r\rd").as_deref(),
            Ok("a\nb\nc\n\n\nd")
        );
        assert_eq!(decode_source(b"no newline").as_deref(), Ok("no newline"));
    }

    #[test]
    fn byte_order_mark() {
        assert_eq!(
            decode_source(b"\xEF\xBB\xBFrevision = 'x'\n").as_deref(),
            Ok("revision = 'x'\n")
        );
        // Only one is stripped; CPython refuses the second, and so do we.
        let twice = decode_source(b"\xEF\xBB\xBF\xEF\xBB\xBFx = 1\n").expect("valid UTF-8");
        assert_eq!(delegated(&twice), DelegateReason::ByteOrderMark);
        assert_eq!(
            delegated("\u{feff}revision = 'x'\n"),
            DelegateReason::ByteOrderMark
        );
    }

    #[test]
    fn nul_bytes() {
        assert_eq!(
            decode_source(b"x = 1\n\0"),
            Err(SourceError::NulByte { offset: 6 })
        );
        assert_eq!(
            decode_source(b"\xEF\xBB\xBF\0"),
            Err(SourceError::NulByte { offset: 3 })
        );
        assert_eq!(delegated("revision = 'x'\0\n"), DelegateReason::NulByte);
    }

    #[test]
    fn invalid_utf8() {
        assert_eq!(
            decode_source(b"x = '\xff'\n"),
            Err(SourceError::InvalidUtf8 { offset: 5 })
        );
        assert_eq!(
            decode_source(b"\xEF\xBB\xBFab\xC3"),
            Err(SourceError::InvalidUtf8 { offset: 5 })
        );
        // Surrogates encoded in UTF-8 are invalid for Python's codec too.
        assert_eq!(
            decode_source(b"'\xED\xA0\x80'"),
            Err(SourceError::InvalidUtf8 { offset: 1 })
        );
        assert!(SourceError::InvalidUtf8 { offset: 5 }
            .to_string()
            .contains("offset 5"));
    }

    #[test]
    fn syntax_errors_delegate() {
        for source in [
            "revision = \n",
            "def (",
            "revision = 'unterminated\n",
            "  indented = 1\n",
            "x = '\\x4'\n",
            "x = b'\u{e9}'\n",
            "f(x for x in y, 1)\n",
            "del f()\n",
        ] {
            assert!(
                matches!(delegated(source), DelegateReason::SyntaxError(_)),
                "{source:?}"
            );
        }
    }

    #[test]
    fn syntax_errors_ruff_misses_delegate() {
        for source in [
            "try:\n    pass\nelse:\n    pass\nfinally:\n    pass\n",
            "def f():\n    yield % x\n",
            "def f():\n    x = yield x, @ y\n",
            "f(yield)\n",
            "x = [*(a) or b]\n",
            "x = *(a) in b,\n",
            "x = (1, *(a) if b else c)\n",
            "x = {**(a) or b}\n",
            "x = {**(a) or (b)}\n",
            "x = ((a) := 1)\n",
            "match x:\n    case C((a)=1):\n        pass\n",
        ] {
            assert!(
                matches!(delegated(source), DelegateReason::SyntaxError(_)),
                "{source:?}"
            );
        }
        // The valid neighbours of those.
        for source in [
            "try:\n    pass\nexcept E:\n    pass\nelse:\n    pass\n",
            "def f():\n    yield x\n    x = yield\n    x += yield\n    x: int = yield from y\n",
            "x = [*(a or b)]\n",
            "x = [*a, *(b if c else d)]\n",
            "x = {**(a or b)}\n",
            "x = {**(a or # comment\n b\n)}\n",
            "x = (a := 1)\n",
            "match x:\n    case C(a=1):\n        pass\n",
        ] {
            assert!(
                matches!(parse_module(source, PY311), ParseOutcome::Parsed(_)),
                "{source:?}"
            );
        }
    }

    #[test]
    fn syntax_is_checked_against_the_interpreter_version() {
        let source = "type X = int\nrevision = 'x'\n";
        assert!(matches!(
            delegated(source),
            DelegateReason::UnsupportedSyntax(_)
        ));
        assert_eq!(
            parse_module(source, PY312),
            ParseOutcome::Parsed(info(Some("x"), fixed(&[])))
        );
        let nested_quotes = "x = f'{d['k']}'\nrevision = 'x'\n";
        assert!(matches!(
            delegated(nested_quotes),
            DelegateReason::UnsupportedSyntax(_)
        ));
        assert!(matches!(
            parse_module(nested_quotes, PY312),
            ParseOutcome::Parsed(_)
        ));
    }

    #[test]
    fn unmodelled_interpreters_delegate() {
        for (major, minor) in [(3, 10), (3, 15), (4, 0), (2, 7)] {
            let python = PyVersion { major, minor };
            assert_eq!(
                parse_module("revision = 'x'\n", python),
                ParseOutcome::Delegate(DelegateReason::UnsupportedPython(python))
            );
        }
        let newest = PyVersion {
            major: 3,
            minor: 14,
        };
        assert!(matches!(
            parse_module("revision = 'x'\n", newest),
            ParseOutcome::Parsed(_)
        ));
    }

    #[test]
    fn backslash_in_a_value_literal_delegates() {
        for source in [
            "revision = 'a\\x41'\n",
            "revision = 'a' '\\n'\n",
            "revision = r'\\d'\n",
            "revision = 'a\\\nb'\n",
            "down_revision = '\\u2014'\n",
            "down_revision = ('a', '\\\\')\n",
            "down_revision = ['a', 'b' '\\'']\n",
        ] {
            assert_eq!(
                delegated(source),
                DelegateReason::EscapeInValue,
                "{source:?}"
            );
        }
        // Literals that do not end up in the values may hold (valid) escapes.
        assert_eq!(
            parsed("\"\"\"Doc\\n.\"\"\"\nrevision = 'a\\tb'\nrevision = 'c'\nx = '\\x41'\n"),
            info(Some("c"), fixed(&[]))
        );
        assert_eq!(
            parsed("down_revision = ('a', b'\\x00', f'\\n{x}')\n"),
            info(None, fixed(&["a"]))
        );
        assert_eq!(
            parsed("revision = 'r'\ndown_revision = get_down_revision('\\x41')\n"),
            info(Some("r"), DownRevision::Dynamic)
        );
    }

    #[test]
    fn escapes_cpython_warns_about_delegate() {
        for source in [
            "x = '\\d'\n",
            "x = b'\\u0041'\n",
            "x = b'\\N{DASH}'\n",
            "x = '\\777'\n",
            "x = '\\8'\n",
            "x = f'\\{6*7}'\n",
            "x = '\\N{EM DASH}'\n",
            "'''Doc with \\( invalid escape.'''\n",
            // CPython 3.12+ reads a raw f-string's format spec as if it were not raw.
            "x = rf'{x:\\d}'\n",
        ] {
            assert_eq!(
                delegated(source),
                DelegateReason::UncertainEscape,
                "{source:?}"
            );
        }
        for source in [
            "x = r'\\d'\n",
            "x = rb'\\d'\n",
            "x = rf'\\d{x}'\n",
            "x = '\\377\\0\\x41\\u0041\\U00000041\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\"'\n",
            "x = '\\\n'\n",
            "x = b'\\x41\\101'\n",
        ] {
            assert!(
                matches!(parse_module(source, PY311), ParseOutcome::Parsed(_)),
                "{source:?}"
            );
        }
    }

    #[test]
    fn tokenizer_corner_cases_delegate() {
        assert_eq!(
            delegated("x = 1if y else 2\n"),
            DelegateReason::NumberBeforeName
        );
        assert_eq!(
            delegated("x = [0x1for x in y]\n"),
            DelegateReason::NumberBeforeName
        );
        assert!(matches!(
            parse_module("x = 1 if y else 2\n", PY311),
            ParseOutcome::Parsed(_)
        ));
        assert_eq!(delegated("ｒevision = 'x'\n"), DelegateReason::NonAsciiName);
        assert_eq!(delegated("é = 1\n"), DelegateReason::NonAsciiName);
        assert_eq!(
            delegated("if x:\n\ty = 1\n"),
            DelegateReason::TabIndentation
        );
        assert!(matches!(
            parse_module("x = 1\t# tab\n\t# comment\n", PY311),
            ParseOutcome::Parsed(_)
        ));
        assert!(matches!(
            parse_module("if x:\n\x0c    y = 1\n", PY311),
            ParseOutcome::Parsed(_)
        ));
    }

    #[test]
    fn exits_from_finally_delegate() {
        for source in [
            "try:\n    pass\nfinally:\n    return\n",
            "for x in y:\n    try:\n        pass\n    finally:\n        if x:\n            break\n",
            "while x:\n    try:\n        pass\n    except E:\n        pass\n    finally:\n        continue\n",
        ] {
            assert_eq!(delegated(source), DelegateReason::ExitInFinally, "{source:?}");
        }
        let fine = "def f():\n    try:\n        return 1\n    except E:\n        return 2\n    finally:\n        pass\n    return 3\n";
        assert!(matches!(parse_module(fine, PY311), ParseOutcome::Parsed(_)));
    }

    #[test]
    fn interpolation_corner_cases_delegate() {
        for source in [
            "x = f'{*a}'\n",
            "x = f'{a:{b:{c}}}'\n",
            "x = f'{a!r :}'\n",
            "x = f'{a!r }'\n",
        ] {
            assert_eq!(
                delegated(source),
                DelegateReason::InterpolationEdgeCase,
                "{source:?}"
            );
        }
        for source in ["x = f'{a:{b}}'\n", "x = f'{*a,}'\n", "x = f'{a!r:>10}'\n"] {
            assert!(
                matches!(parse_module(source, PY311), ParseOutcome::Parsed(_)),
                "{source:?}"
            );
        }
    }

    #[test]
    fn large_sources_delegate() {
        let source = "x = 1\n".repeat(MAX_NATIVE_SOURCE_BYTES / 6 + 1);
        assert_eq!(
            delegated(&source),
            DelegateReason::TooLarge {
                bytes: source.len()
            }
        );
        let fits = "x = 1\n".repeat(MAX_NATIVE_SOURCE_BYTES / 6);
        assert!(matches!(
            parse_module(&fits, PY311),
            ParseOutcome::Parsed(_)
        ));
    }

    #[test]
    fn nesting_cpython_accepts_is_parsed() {
        let brackets = format!("revision = {}'x'{}\n", "(".repeat(100), ")".repeat(100));
        assert_eq!(revision(&brackets), Some("x".to_owned()));
        // The statement, 97 operators and the operand: 99 levels.
        let unary = format!("x = {}1\nrevision = 'x'\n", "-".repeat(97));
        assert_eq!(revision(&unary), Some("x".to_owned()));
    }

    #[test]
    fn deep_unary_nesting_delegates_without_overflow() {
        let source = format!("x = {}1", "-".repeat(200_000));
        assert!(source.len() <= MAX_NATIVE_SOURCE_BYTES);
        assert_eq!(
            parse_on_big_stack(source),
            ParseOutcome::Delegate(DelegateReason::TooDeeplyNested)
        );
        // The worst case the size cap allows: one AST level per byte.
        let source = format!("x={}1", "-".repeat(MAX_NATIVE_SOURCE_BYTES - 3));
        assert_eq!(source.len(), MAX_NATIVE_SOURCE_BYTES);
        assert_eq!(
            parse_on_big_stack(source),
            ParseOutcome::Delegate(DelegateReason::TooDeeplyNested)
        );
    }

    #[test]
    fn deep_bracket_nesting_delegates_without_overflow() {
        let half = MAX_NATIVE_SOURCE_BYTES / 2 - 4;
        for (open, close) in [("(", ")"), ("[", "]"), ("{", "}")] {
            let source = format!("x = {}{}", open.repeat(half), close.repeat(half));
            assert_eq!(
                parse_on_big_stack(source),
                ParseOutcome::Delegate(DelegateReason::TooDeeplyNested),
                "{open}"
            );
            // Unbalanced: a syntax error, still without overflowing.
            let source = format!("x = {}", open.repeat(MAX_NATIVE_SOURCE_BYTES - 4));
            assert!(matches!(
                parse_on_big_stack(source),
                ParseOutcome::Delegate(DelegateReason::SyntaxError(_))
            ));
        }
        let calls = format!("x = {}{}", "f(".repeat(60_000), ")".repeat(60_000));
        assert_eq!(
            parse_on_big_stack(calls),
            ParseOutcome::Delegate(DelegateReason::TooDeeplyNested)
        );
    }

    #[test]
    fn deep_statement_nesting_delegates() {
        let source: String = (0..101)
            .map(|level| format!("{}if x:\n", " ".repeat(level)))
            .chain(std::iter::once(format!("{}pass\n", " ".repeat(101))))
            .collect();
        assert_eq!(
            parse_on_big_stack(source),
            ParseOutcome::Delegate(DelegateReason::TooDeeplyNested)
        );
    }

    #[test]
    fn reasons_display_briefly() {
        let reasons = [
            DelegateReason::TooLarge { bytes: 1 },
            DelegateReason::NulByte,
            DelegateReason::ByteOrderMark,
            DelegateReason::UnsupportedPython(PY311),
            DelegateReason::SyntaxError("boom".to_owned()),
            DelegateReason::UnsupportedSyntax("boom".to_owned()),
            DelegateReason::TooDeeplyNested,
            DelegateReason::UncertainEscape,
            DelegateReason::NonAsciiName,
            DelegateReason::InterpolationEdgeCase,
            DelegateReason::TabIndentation,
            DelegateReason::ExitInFinally,
            DelegateReason::NumberBeforeName,
            DelegateReason::EscapeInValue,
        ];
        for reason in reasons {
            let text = reason.to_string();
            assert!(
                !text.is_empty() && text.len() < 80 && !text.contains('\n'),
                "{text}"
            );
        }
    }
}
