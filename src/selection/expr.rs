//! A small, safe filter language over named columns (never SQL):
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | compare
//! compare := NAME op literal | NAME "is" ["not"] "null" | NAME "~" STRING
//! op      := "<" | "<=" | ">" | ">=" | "=" | "==" | "!="
//! literal := NUMBER | 'text' | "text" | true | false | null
//! ```
//! `~` is a case-insensitive substring match. A comparison with a null value is false
//! (as in SQL), except `is null`. Text that looks like a number compares as a number.
//!
//! Expressions come from users, shared policy files (`[[gates]] when`) and the GUI's filter
//! box, so parsing is bounded: parentheses and `not` nest at most [`MAX_DEPTH`] levels (a
//! positioned error beyond), and chains of `and` / `or` become balanced trees, so parsing,
//! evaluating and dropping an expression never recurse deeper than about
//! `MAX_DEPTH · log2(length)` frames, whatever the input.

use std::fmt;

/// How deeply parentheses and `not` may nest (far beyond any hand-written filter; a deeper
/// input is refused with the position of the first token past the limit).
pub const MAX_DEPTH: usize = 100;

pub use crate::table::{Cell, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Contains,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(String, Op, Value),
    IsNull(String, bool),
}

/// Why an expression could not be parsed; `at` is a character offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(f64),
    Str(String),
    Op(Op),
    LParen,
    RParen,
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |m: &str, at| ParseError {
        message: m.to_string(),
        at,
    };
    while let Some(&c) = chars.get(i) {
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, start));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, start));
                i += 1;
            }
            '<' | '>' | '=' | '!' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('=', Some('=')) => (Op::Eq, 2),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    ('=', _) => (Op::Eq, 1),
                    _ => return Err(err("expected != ", start)),
                };
                out.push((Tok::Op(op), start));
                i += len;
            }
            '~' => {
                out.push((Tok::Op(Op::Contains), start));
                i += 1;
            }
            '\'' | '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated string", start)),
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(&n) = chars.get(i + 1) {
                                text.push(n);
                            }
                            i += 2;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(text), start));
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                let mut j = i + 1;
                while let Some(&d) = chars.get(j) {
                    let prev = chars.get(j - 1).copied();
                    if d.is_ascii_digit()
                        || d == '.'
                        || d == 'e'
                        || d == 'E'
                        || ((d == '-' || d == '+') && matches!(prev, Some('e' | 'E')))
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                let text: String = chars
                    .get(i..j)
                    .map(|s| s.iter().collect())
                    .unwrap_or_default();
                let v: f64 = text
                    .parse()
                    .map_err(|_| err(&format!("'{text}' is not a number"), start))?;
                out.push((Tok::Num(v), start));
                i = j;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut j = i;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '.')
                {
                    j += 1;
                }
                let text: String = chars
                    .get(i..j)
                    .map(|s| s.iter().collect())
                    .unwrap_or_default();
                out.push((Tok::Name(text), start));
                i = j;
            }
            other => return Err(err(&format!("unexpected character '{other}'"), start)),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    len: usize,
    /// Current nesting of parentheses and `not`.
    depth: usize,
}

/// Joins operands into a balanced tree of `join` nodes, keeping their left-to-right order (and
/// so the short-circuit order of evaluation): the depth is log2 of their number, not linear.
fn balanced(mut items: Vec<Expr>, join: fn(Box<Expr>, Box<Expr>) -> Expr) -> Option<Expr> {
    while items.len() > 1 {
        let mut next = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => join(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        items = next;
    }
    items.pop()
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |t| t.1)
    }
    fn err<T>(&self, m: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: m.into(),
            at: self.at(),
        })
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            terms.push(self.and()?);
        }
        balanced(terms, Expr::Or).map_or_else(|| self.err("expected an expression"), Ok)
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            terms.push(self.unary()?);
        }
        balanced(terms, Expr::And).map_or_else(|| self.err("expected an expression"), Ok)
    }
    /// Enters one level of `(` or `not`, refusing to go past [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!(
                "expression nested deeper than {MAX_DEPTH} levels of parentheses or 'not'"
            ));
        }
        self.depth += 1;
        Ok(())
    }
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.keyword("not") {
            self.deeper()?;
            self.pos += 1;
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        if self.peek() == Some(&Tok::LParen) {
            self.deeper()?;
            self.pos += 1;
            let e = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return self.err("expected ')'");
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(e);
        }
        self.compare()
    }
    fn compare(&mut self) -> Result<Expr, ParseError> {
        let Some(Tok::Name(name)) = self.peek().cloned() else {
            return self.err("expected a column name");
        };
        self.pos += 1;
        if self.keyword("is") {
            self.pos += 1;
            let negated = self.keyword("not");
            if negated {
                self.pos += 1;
            }
            if !self.keyword("null") {
                return self.err("expected 'null' after 'is'");
            }
            self.pos += 1;
            return Ok(Expr::IsNull(name, !negated));
        }
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            return self.err(format!("expected a comparison after '{name}'"));
        };
        self.pos += 1;
        let value = match self.peek().cloned() {
            Some(Tok::Num(v)) => Value::Num(v),
            Some(Tok::Str(s)) => Value::Text(s),
            Some(Tok::Name(n)) if n.eq_ignore_ascii_case("true") => Value::Num(1.0),
            Some(Tok::Name(n)) if n.eq_ignore_ascii_case("false") => Value::Num(0.0),
            Some(Tok::Name(n)) if n.eq_ignore_ascii_case("null") => Value::Null,
            Some(Tok::Name(n)) => Value::Text(n),
            _ => return self.err("expected a value"),
        };
        self.pos += 1;
        if op == Op::Contains && !matches!(value, Value::Text(_)) {
            return self.err("'~' needs a quoted text");
        }
        Ok(Expr::Cmp(name, op, value))
    }
}

impl Expr {
    /// Parses an expression.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut p = Parser {
            toks: lex(s)?,
            pos: 0,
            len: s.chars().count(),
            depth: 0,
        };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return p.err("unexpected text after the expression");
        }
        Ok(e)
    }

    /// Column names the expression refers to (to validate them up front).
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Expr::Not(a) => a.collect(out),
            Expr::Cmp(n, _, _) | Expr::IsNull(n, _) => out.push(n),
        }
    }

    /// Evaluates the expression; `get` returns the value of a column.
    pub fn eval(&self, get: &dyn Fn(&str) -> Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(get) && b.eval(get),
            Expr::Or(a, b) => a.eval(get) || b.eval(get),
            Expr::Not(a) => !a.eval(get),
            Expr::IsNull(n, want_null) => (get(n) == Value::Null) == *want_null,
            Expr::Cmp(n, op, lit) => compare(&get(n), *op, lit),
        }
    }
}

/// Whether `hay.to_lowercase()` contains `needle_lower` (already lower-case), without
/// allocating when `hay` is ASCII (prompts, paths and model names nearly always are).
pub fn contains_lowercase(hay: &str, needle_lower: &str) -> bool {
    if !hay.is_ascii() {
        return hay.to_lowercase().contains(needle_lower);
    }
    // An ASCII string lower-cases to ASCII: a non-ASCII needle cannot occur in it.
    let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
    if !needle_lower.is_ascii() {
        return false;
    }
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    if h.len() < n.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        h[i].to_ascii_lowercase() == first
            && h[i + 1..i + n.len()]
                .iter()
                .zip(rest)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// A literal prepared once: its number (text that looks like one compares as one), its
/// lower-case text for `~`, and the text of a number for text comparisons.
#[derive(Debug, Clone, PartialEq)]
struct Literal {
    value: Value,
    num: Option<f64>,
    lower: String,
    num_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node<C> {
    And(Box<Node<C>>, Box<Node<C>>),
    Or(Box<Node<C>>, Box<Node<C>>),
    Not(Box<Node<C>>),
    IsNull(C, bool),
    Cmp(C, Op, Literal),
}

/// An expression with its column names resolved by the caller (e.g. to column ids) and its
/// literals prepared: evaluating it over many rows matches no names and allocates nothing
/// for ASCII text. Same results as [`Expr::eval`] (tested).
#[derive(Debug, Clone, PartialEq)]
pub struct Bound<C>(Node<C>);

impl Expr {
    /// Resolves every column name once with `resolve`.
    pub fn bind<C>(&self, resolve: &mut dyn FnMut(&str) -> C) -> Bound<C> {
        Bound(self.bind_node(resolve))
    }

    fn bind_node<C>(&self, resolve: &mut dyn FnMut(&str) -> C) -> Node<C> {
        match self {
            Expr::And(a, b) => Node::And(
                Box::new(a.bind_node(resolve)),
                Box::new(b.bind_node(resolve)),
            ),
            Expr::Or(a, b) => Node::Or(
                Box::new(a.bind_node(resolve)),
                Box::new(b.bind_node(resolve)),
            ),
            Expr::Not(a) => Node::Not(Box::new(a.bind_node(resolve))),
            Expr::IsNull(n, want) => Node::IsNull(resolve(n), *want),
            Expr::Cmp(n, op, lit) => Node::Cmp(
                resolve(n),
                *op,
                Literal {
                    num: lit.as_num(),
                    lower: match lit {
                        Value::Text(t) => t.to_lowercase(),
                        _ => String::new(),
                    },
                    num_text: match lit {
                        Value::Num(b) => Some(b.to_string()),
                        _ => None,
                    },
                    value: lit.clone(),
                },
            ),
        }
    }
}

impl<C> Bound<C> {
    /// Evaluates the expression; `get` returns the cell of a resolved column.
    pub fn eval<'a>(&self, get: &impl Fn(&C) -> Cell<'a>) -> bool {
        eval_node(&self.0, get)
    }
}

fn eval_node<'a, C>(n: &Node<C>, get: &impl Fn(&C) -> Cell<'a>) -> bool {
    match n {
        Node::And(a, b) => eval_node(a, get) && eval_node(b, get),
        Node::Or(a, b) => eval_node(a, get) || eval_node(b, get),
        Node::Not(a) => !eval_node(a, get),
        Node::IsNull(c, want_null) => (get(c) == Cell::Null) == *want_null,
        Node::Cmp(c, op, lit) => compare_cell(get(c), *op, lit),
    }
}

/// [`compare`] on a borrowed cell and a prepared literal.
fn compare_cell(v: Cell<'_>, op: Op, lit: &Literal) -> bool {
    let (v_null, l_null) = (v == Cell::Null, lit.value == Value::Null);
    if v_null || l_null {
        return match op {
            Op::Eq => v_null && l_null,
            Op::Ne => v_null != l_null,
            _ => false,
        };
    }
    if op == Op::Contains {
        let (Cell::Text(hay), Value::Text(_)) = (v, &lit.value) else {
            return false;
        };
        return contains_lowercase(hay, &lit.lower);
    }
    // The value is parsed only when the literal is a number (as `compare` decides).
    let nums = lit.num.and_then(|b| v.as_num().map(|a| (a, b)));
    let ord = match nums {
        Some((a, b)) => a.partial_cmp(&b),
        None => match (v, &lit.value) {
            (Cell::Text(a), Value::Text(b)) => Some(a.cmp(b.as_str())),
            (Cell::Num(a), Value::Text(b)) => Some(a.to_string().as_str().cmp(b.as_str())),
            (Cell::Text(a), Value::Num(_)) => lit.num_text.as_deref().map(|b| a.cmp(b)),
            _ => None,
        },
    };
    ord.is_some_and(|ord| holds(op, ord))
}

fn compare(v: &Value, op: Op, lit: &Value) -> bool {
    if *v == Value::Null || *lit == Value::Null {
        return match op {
            Op::Eq => *v == Value::Null && *lit == Value::Null,
            Op::Ne => (*v == Value::Null) != (*lit == Value::Null),
            _ => false,
        };
    }
    if op == Op::Contains {
        let (Value::Text(hay), Value::Text(needle)) = (v, lit) else {
            return false;
        };
        return hay.to_lowercase().contains(&needle.to_lowercase());
    }
    let ord = match (v.as_num(), lit.as_num()) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => match (v, lit) {
            (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
            (Value::Num(a), Value::Text(b)) => Some(a.to_string().cmp(b)),
            (Value::Text(a), Value::Num(b)) => Some(a.cmp(&b.to_string())),
            _ => None,
        },
    };
    ord.is_some_and(|ord| holds(op, ord))
}

/// Whether `ord` (value against literal) satisfies the comparison `op`.
fn holds(op: Op, ord: std::cmp::Ordering) -> bool {
    match op {
        Op::Lt => ord.is_lt(),
        Op::Le => ord.is_le(),
        Op::Gt => ord.is_gt(),
        Op::Ge => ord.is_ge(),
        Op::Eq => ord.is_eq(),
        Op::Ne => ord.is_ne(),
        Op::Contains => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> Value {
        match name {
            "blur" => Value::Num(12.5),
            "tool" => Value::Text("comfyui".into()),
            "prompt" => Value::Text("A photo of a Fox".into()),
            "seed" => Value::Text("42".into()),
            _ => Value::Null,
        }
    }

    #[test]
    fn table_of_expressions() {
        let cases = [
            ("blur < 20", true),
            ("blur >= 12.5 and blur <= 12.5", true),
            ("blur > 20 or tool = 'comfyui'", true),
            ("not (tool == \"comfyui\")", false),
            ("prompt ~ 'fox'", true),
            ("prompt ~ 'wolf'", false),
            ("missing is null", true),
            ("blur is not null", true),
            ("missing < 5", false),
            ("missing != 5", true),
            ("seed = 42", true),
            ("seed > 1e1", true),
            ("tool != comfyui", false),
            ("blur < -1", false),
        ];
        for (src, want) in cases {
            let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(e.eval(&row), want, "{src}");
        }
    }

    #[test]
    fn bound_evaluation_agrees_with_eval() {
        let exprs = [
            "blur < 20",
            "blur >= 12.5 and blur <= 12.5",
            "blur > 20 or tool = 'comfyui'",
            "not (tool == \"comfyui\")",
            "prompt ~ 'fox'",
            "prompt ~ 'FOX'",
            "prompt ~ 'ß'",
            "prompt ~ ''",
            "missing is null",
            "blur is not null",
            "missing < 5",
            "missing != 5",
            "missing = null",
            "seed = 42",
            "seed > 1e1",
            "seed < 'abc'",
            "blur > 'abc'",
            "tool != comfyui",
            "tool < 5",
            "blur < -1",
            "width = '12'",
        ];
        let rows: Vec<Vec<(&str, Value)>> = vec![
            vec![
                ("blur", Value::Num(12.5)),
                ("tool", Value::Text("comfyui".into())),
                ("prompt", Value::Text("A photo of a Fox".into())),
                ("seed", Value::Text("42".into())),
                ("width", Value::Num(12.0)),
            ],
            vec![
                ("blur", Value::Num(f64::NAN)),
                ("tool", Value::Text("ComfyUI".into())),
                ("prompt", Value::Text("STRASSE, Straße, ǅ FOX".into())),
                ("seed", Value::Text(" 7 ".into())),
            ],
            vec![
                ("blur", Value::Text("3".into())),
                ("prompt", Value::Num(4.0)),
                ("tool", Value::Text("ÄÖÜ".into())),
            ],
        ];
        for src in exprs {
            let e = Expr::parse(src).unwrap();
            let names: Vec<String> = e.columns().iter().map(|s| s.to_string()).collect();
            let b = e.bind(&mut |n: &str| names.iter().position(|x| x == n).unwrap());
            for row in &rows {
                let get = |n: &str| {
                    row.iter()
                        .find(|(k, _)| *k == n)
                        .map_or(Value::Null, |(_, v)| v.clone())
                };
                let cells: Vec<Value> = names.iter().map(|n| get(n)).collect();
                let cell = |i: &usize| match &cells[*i] {
                    Value::Null => Cell::Null,
                    Value::Num(x) => Cell::Num(*x),
                    Value::Text(t) => Cell::Text(t),
                };
                assert_eq!(b.eval(&cell), e.eval(&get), "{src} on {row:?}");
            }
        }
    }

    #[test]
    fn lowercase_containment_matches_to_lowercase() {
        for (hay, needle) in [
            ("A photo of a Fox", "fox"),
            ("A photo of a Fox", "o of"),
            ("fo", "fox"),
            ("", ""),
            ("abc", ""),
            ("Straße", "straße"),
            ("STRASSE", "straße"),
            ("İstanbul", "i̇stanbul"),
            ("KELVIN \u{212a}", "k"),
            ("plain ascii", "é"),
        ] {
            assert_eq!(
                contains_lowercase(hay, needle),
                hay.to_lowercase().contains(needle),
                "{hay} / {needle}"
            );
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (src, at) in [
            ("blur <", 6),
            ("(blur < 3", 9),
            ("blur < 3 3", 9),
            ("blur ? 3", 5),
            ("'x", 0),
        ] {
            let e = Expr::parse(src).unwrap_err();
            assert_eq!(e.at, at, "{src}: {e}");
        }
        assert_eq!(
            Expr::parse("a < 1 and b is null").unwrap().columns(),
            vec!["a", "b"]
        );
    }

    /// Issue 17: 15,000 nested parentheses or 30,000 `not (` overflowed the stack (SIGABRT)
    /// through `--where`, a policy's `when` and the GUI's filter box.
    #[test]
    fn deep_nesting_is_a_positioned_error_not_a_stack_overflow() {
        let parens = format!("{}blur < 1{}", "(".repeat(15_000), ")".repeat(15_000));
        let e = Expr::parse(&parens).unwrap_err();
        assert!(e.message.contains("nested deeper than"), "{e}");
        assert_eq!(e.at, MAX_DEPTH, "the first '(' past the limit");
        let nots = format!("{}blur < 1{}", "not (".repeat(30_000), ")".repeat(30_000));
        let e = Expr::parse(&nots).unwrap_err();
        assert!(e.message.contains("nested deeper than"), "{e}");
        assert_eq!(e.at, MAX_DEPTH / 2 * 5, "the 'not' past the limit");
        let bare_nots = format!("{}blur < 1", "not ".repeat(50_000));
        assert!(Expr::parse(&bare_nots).is_err());
        // Exactly at the limit still parses and evaluates.
        let ok = format!(
            "{}blur < 20{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(Expr::parse(&ok).unwrap().eval(&row));
    }

    /// Long flat chains are not nesting: they parse into balanced trees, so evaluating and
    /// dropping them does not recurse once per term either.
    #[test]
    fn long_and_or_chains_stay_shallow() {
        let n = 200_000;
        let chain = vec!["blur < 20"; n].join(" and ");
        let e = Expr::parse(&chain).unwrap();
        fn depth(e: &Expr) -> usize {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => 1 + depth(a).max(depth(b)),
                Expr::Not(a) => 1 + depth(a),
                _ => 1,
            }
        }
        assert!(depth(&e) <= 20, "depth {}", depth(&e));
        assert!(e.eval(&row));
        assert_eq!(e.columns().len(), n);
        let mixed = format!("{} or tool = 'comfyui'", vec!["blur > 20"; n].join(" or "));
        let e = Expr::parse(&mixed).unwrap();
        assert!(e.eval(&row), "the last term decides");
        // Order (and so short-circuiting) is kept: columns come back in source order.
        let e = Expr::parse("a < 1 and b < 2 and c < 3 or d < 4 and e < 5").unwrap();
        assert_eq!(e.columns(), vec!["a", "b", "c", "d", "e"]);
    }
}
