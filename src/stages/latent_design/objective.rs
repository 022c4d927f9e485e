//! The design objective of `latent_design`, written in the manifest in the paper's units:
//!
//! ```text
//! maximize |Hc| subject to Mr >= 0.8
//! minimize Hk90
//! target Mr = 0.85, Hk90 = -0.45 weight 2, Hc = -0.6
//! ```
//!
//! Grammar (case-insensitive anchor names `M1 Mr Hk90 Hk80 Hk70 Hc`; M in Ms, H in HA):
//! `maximize|minimize TERM [subject to CONSTRAINT {, CONSTRAINT}]`, or
//! `target NAME = NUMBER [weight NUMBER] {, …} [subject to …]`, where TERM is `NAME` or `|NAME|`
//! and CONSTRAINT is `TERM >= NUMBER` or `TERM <= NUMBER`. The score (higher is better) is the
//! term (negated for minimize), or −Σ w (a − t)² for a target, minus `penalty · Σ violation²`.

use std::fmt;

/// Names of the six anchors, in the order of the anchor arrays.
pub const ANCHORS: [&str; 6] = ["M1", "Mr", "Hk90", "Hk80", "Hk70", "Hc"];

/// Values an anchor can take: M1 and Mr in Ms lie in [−1, 1]; the knee and coercive fields in HA
/// lie in [`h_end`, `h_start`] of the sweep (here the widest sensible span, [−10, 10]).
fn feasible_range(anchor: usize) -> (f64, f64) {
    if anchor < 2 {
        (-1.0, 1.0)
    } else {
        (-10.0, 10.0)
    }
}

/// An anchor, or its absolute value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// Index into [`ANCHORS`].
    pub anchor: usize,
    /// `|NAME|`.
    pub absolute: bool,
}

impl Term {
    /// The term's value for one row of anchors.
    pub fn value(&self, anchors: &[f64; 6]) -> f64 {
        let v = anchors[self.anchor];
        if self.absolute { v.abs() } else { v }
    }

    /// The interval the term can take.
    fn range(&self) -> (f64, f64) {
        let (lo, hi) = feasible_range(self.anchor);
        if self.absolute {
            (0.0, lo.abs().max(hi.abs()))
        } else {
            (lo, hi)
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ANCHORS[self.anchor];
        if self.absolute {
            write!(f, "|{name}|")
        } else {
            f.write_str(name)
        }
    }
}

/// `TERM >= bound` (`at_least`) or `TERM <= bound`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    /// Constrained term.
    pub term: Term,
    /// True for `>=`.
    pub at_least: bool,
    /// The bound.
    pub bound: f64,
}

impl Constraint {
    /// How far `anchors` is from satisfying the constraint (0 when satisfied).
    pub fn violation(&self, anchors: &[f64; 6]) -> f64 {
        let v = self.term.value(anchors);
        if self.at_least {
            (self.bound - v).max(0.0)
        } else {
            (v - self.bound).max(0.0)
        }
    }
}

/// What is optimised.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    /// Maximise the term.
    Maximize(Term),
    /// Minimise the term.
    Minimize(Term),
    /// Come close to target values: (anchor, target, weight).
    Target(Vec<(usize, f64, f64)>),
}

/// A parsed objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// The goal.
    pub goal: Goal,
    /// Constraints, as penalties.
    pub constraints: Vec<Constraint>,
}

/// Why an objective string was refused: the message and an optional suggestion.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl fmt::Display for ObjectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ObjectiveError {}

fn err(message: impl Into<String>, help: Option<String>) -> ObjectiveError {
    ObjectiveError {
        message: message.into(),
        help,
    }
}

/// The anchor called `name` (case-insensitive), or an error with the closest name.
fn anchor(name: &str) -> Result<usize, ObjectiveError> {
    if let Some(i) = ANCHORS.iter().position(|a| a.eq_ignore_ascii_case(name)) {
        return Ok(i);
    }
    let closest = ANCHORS
        .iter()
        .min_by_key(|a| edit_distance(&a.to_ascii_lowercase(), &name.to_ascii_lowercase()))
        .copied()
        .unwrap_or("Hc");
    Err(err(
        format!("unknown anchor `{name}`"),
        Some(format!(
            "did you mean `{closest}`? anchors: {}",
            ANCHORS.join(", ")
        )),
    ))
}

/// Levenshtein distance (short strings).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn number(text: &str, what: &str) -> Result<f64, ObjectiveError> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| err(format!("{what}: `{}` is not a number", text.trim()), None))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(err(
            format!("{what}: `{}` is not finite", text.trim()),
            None,
        ))
    }
}

fn term(text: &str) -> Result<Term, ObjectiveError> {
    let t = text.trim();
    match t.strip_prefix('|').and_then(|r| r.strip_suffix('|')) {
        Some(inner) => Ok(Term {
            anchor: anchor(inner.trim())?,
            absolute: true,
        }),
        None if t.is_empty() => Err(err("an anchor name is missing", None)),
        None => Ok(Term {
            anchor: anchor(t)?,
            absolute: false,
        }),
    }
}

fn constraint(text: &str) -> Result<Constraint, ObjectiveError> {
    let (lhs, rhs, at_least) = if let Some((l, r)) = text.split_once(">=") {
        (l, r, true)
    } else if let Some((l, r)) = text.split_once("<=") {
        (l, r, false)
    } else {
        return Err(err(
            format!("constraint `{}` needs `>=` or `<=`", text.trim()),
            Some("e.g. `subject to Mr >= 0.8`".into()),
        ));
    };
    let c = Constraint {
        term: term(lhs)?,
        at_least,
        bound: number(rhs, "constraint bound")?,
    };
    let (lo, hi) = c.term.range();
    let impossible = if at_least { c.bound > hi } else { c.bound < lo };
    if impossible {
        return Err(err(
            format!(
                "constraint `{}` cannot be met: {} lies in [{lo}, {hi}]",
                text.trim(),
                c.term
            ),
            None,
        ));
    }
    Ok(c)
}

/// Splits `text` at a case-insensitive keyword, if present.
fn split_keyword<'a>(text: &'a str, keyword: &str) -> (&'a str, Option<&'a str>) {
    match text.to_ascii_lowercase().find(keyword) {
        Some(i) => (&text[..i], Some(&text[i + keyword.len()..])),
        None => (text, None),
    }
}

impl Objective {
    /// Parses an objective (see the module documentation for the grammar).
    pub fn parse(text: &str) -> Result<Objective, ObjectiveError> {
        let (head, tail) = split_keyword(text, "subject to");
        let head = head.trim();
        let (verb, rest) = head.split_once(char::is_whitespace).unwrap_or((head, ""));
        let goal = match verb.to_ascii_lowercase().as_str() {
            "maximize" | "maximise" => Goal::Maximize(term(rest)?),
            "minimize" | "minimise" => Goal::Minimize(term(rest)?),
            "target" => {
                let mut targets = Vec::new();
                for part in rest.split(',') {
                    let (assign, weight) = split_keyword(part, "weight");
                    let (name, value) = assign.split_once('=').ok_or_else(|| {
                        err(
                            format!("target `{}` needs `NAME = value`", part.trim()),
                            Some("e.g. `target Mr = 0.85, Hc = -0.6 weight 2`".into()),
                        )
                    })?;
                    let a = anchor(name.trim())?;
                    let w = match weight {
                        Some(w) => number(w, "target weight")?,
                        None => 1.0,
                    };
                    if w <= 0.0 {
                        return Err(err(format!("target weight {w} must be positive"), None));
                    }
                    if targets.iter().any(|(b, _, _)| *b == a) {
                        return Err(err(
                            format!("anchor {} is targeted twice", ANCHORS[a]),
                            None,
                        ));
                    }
                    let t = number(value, "target value")?;
                    let (lo, hi) = feasible_range(a);
                    if !(lo..=hi).contains(&t) {
                        return Err(err(
                            format!(
                                "target {} = {t} cannot be reached: it lies in [{lo}, {hi}]",
                                ANCHORS[a]
                            ),
                            None,
                        ));
                    }
                    targets.push((a, t, w));
                }
                Goal::Target(targets)
            }
            "" => return Err(err("the objective is empty", Some(EXAMPLES.into()))),
            other => {
                return Err(err(
                    format!("an objective starts with maximize, minimize or target, not `{other}`"),
                    Some(EXAMPLES.into()),
                ));
            }
        };
        let mut constraints = Vec::new();
        if let Some(tail) = tail {
            for part in tail.split(',') {
                constraints.push(constraint(part)?);
            }
        }
        check_consistent(&constraints)?;
        Ok(Objective { goal, constraints })
    }

    /// Score of one row of anchors (higher is better) with constraint penalty weight `penalty`.
    pub fn score(&self, anchors: &[f64; 6], penalty: f64) -> f64 {
        let base = match &self.goal {
            Goal::Maximize(t) => t.value(anchors),
            Goal::Minimize(t) => -t.value(anchors),
            Goal::Target(ts) => -ts
                .iter()
                .map(|(a, t, w)| w * (anchors[*a] - t).powi(2))
                .sum::<f64>(),
        };
        base - penalty * self.violation2(anchors)
    }

    /// Σ violation² over the constraints.
    pub fn violation2(&self, anchors: &[f64; 6]) -> f64 {
        self.constraints
            .iter()
            .map(|c| c.violation(anchors).powi(2))
            .sum()
    }

    /// Whether every constraint holds (within `tol`).
    pub fn feasible(&self, anchors: &[f64; 6], tol: f64) -> bool {
        self.constraints.iter().all(|c| c.violation(anchors) <= tol)
    }
}

/// Examples shown when an objective cannot be read.
const EXAMPLES: &str = "e.g. `maximize |Hc| subject to Mr >= 0.8` or `target Mr = 0.85, Hc = -0.6`";

/// Refuses constraints that contradict each other on the same term (`Mr >= 0.9, Mr <= 0.8`).
fn check_consistent(cs: &[Constraint]) -> Result<(), ObjectiveError> {
    for a in cs.iter().filter(|c| c.at_least) {
        for b in cs.iter().filter(|c| !c.at_least && c.term == a.term) {
            if a.bound > b.bound {
                return Err(err(
                    format!(
                        "constraints cannot all be met: {t} >= {} and {t} <= {}",
                        a.bound,
                        b.bound,
                        t = a.term
                    ),
                    None,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: [f64; 6] = [0.95, 0.8, -0.5, -0.55, -0.6, -0.7];

    #[test]
    fn the_issue_examples_parse_and_score() {
        let o = Objective::parse("maximize |Hc| subject to Mr >= 0.8").expect("parses");
        assert_eq!(
            o.goal,
            Goal::Maximize(Term {
                anchor: 5,
                absolute: true
            })
        );
        assert_eq!(o.constraints.len(), 1);
        assert_eq!(o.score(&ROW, 100.0), 0.7);
        let mut low_mr = ROW;
        low_mr[1] = 0.7;
        // 0.1 short of Mr >= 0.8: penalty 100 · 0.01 = 1.
        assert!((o.score(&low_mr, 100.0) - (0.7 - 1.0)).abs() < 1e-12);
        assert!(!o.feasible(&low_mr, 1e-9) && o.feasible(&ROW, 1e-9));

        let t =
            Objective::parse("Target mr = 0.85, HK90 = -0.45 weight 2, Hc=-0.6").expect("parses");
        assert_eq!(
            t.goal,
            Goal::Target(vec![(1, 0.85, 1.0), (2, -0.45, 2.0), (5, -0.6, 1.0)])
        );
        let expected = -(0.05f64.powi(2) + 2.0 * 0.05f64.powi(2) + 0.1f64.powi(2));
        assert!((t.score(&ROW, 100.0) - expected).abs() < 1e-12);
        let m = Objective::parse("minimize Hk90").expect("parses");
        assert_eq!(m.score(&ROW, 1.0), 0.5);
    }

    #[test]
    fn bad_objectives_say_what_is_wrong() {
        let e = Objective::parse("maximize |Hx|").expect_err("unknown anchor");
        assert!(e.message.contains("unknown anchor `Hx`"), "{e}");
        assert!(
            e.help
                .as_deref()
                .unwrap_or("")
                .contains("did you mean `Hc`"),
            "{e}"
        );
        let e = Objective::parse("maximize Hc subject to Mr >= 1.5").expect_err("infeasible");
        assert!(e.message.contains("cannot be met"), "{e}");
        let e = Objective::parse("maximize Hc subject to Mr >= 0.9, Mr <= 0.8").expect_err("clash");
        assert!(e.message.contains("cannot all be met"), "{e}");
        let e = Objective::parse("optimise Hc").expect_err("verb");
        assert!(e.message.contains("maximize, minimize or target"), "{e}");
        assert!(Objective::parse("").is_err());
        assert!(Objective::parse("maximize").is_err());
        assert!(Objective::parse("target Mr 0.8").is_err());
        assert!(Objective::parse("target Mr = 2").is_err());
        assert!(Objective::parse("target Mr = 0.8, Mr = 0.7").is_err());
        assert!(Objective::parse("target Mr = 0.8 weight 0").is_err());
        assert!(Objective::parse("maximize Hc subject to Mr > 0.8").is_err());
        assert!(Objective::parse("maximize Hc subject to Mr >= nan").is_err());
    }
}
