//! Checking a parameter value against its catalogue spec: type, bounds and choices.

use toml::Value;

use super::{ParamSpec, ParamType};
use crate::engine::diag::suggestion;

impl ParamSpec {
    /// Checks a value against this spec and returns it in canonical form (ints widened to floats
    /// where floats are expected). The error text says what was expected and what was found.
    pub fn check(&self, value: &Value) -> Result<Value, String> {
        let spec = self;
        let found = || format!("expected {}, found {}", spec.ty.name(), describe(value));
        let num = |v: &Value| match v {
            Value::Float(f) if f.is_finite() => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        let bounded = |x: f64| -> Result<(), String> {
            if let Some(m) = spec.min_exclusive
                && x <= m
            {
                return Err(format!("{x} must be greater than {m}"));
            }
            if spec.min.is_some_and(|m| x < m) || spec.max.is_some_and(|m| x > m) {
                return Err(format!(
                    "{x} is outside [{}, {}]",
                    spec.min.map_or("-inf".into(), |m| m.to_string()),
                    spec.max.map_or("inf".into(), |m| m.to_string())
                ));
            }
            Ok(())
        };
        let out = match (spec.ty, value) {
            (ParamType::Int, Value::Integer(i)) => {
                bounded(*i as f64)?;
                value.clone()
            }
            (ParamType::Float, v) if num(v).is_some() => {
                let x = num(v).unwrap_or_default();
                bounded(x)?;
                Value::Float(x)
            }
            (ParamType::Bool, Value::Boolean(_)) => value.clone(),
            (ParamType::String, Value::String(s)) => {
                if let Some(choices) = &spec.choices
                    && !choices.contains(s)
                {
                    let hint = suggestion(s, choices.iter().map(String::as_str))
                        .map(|hint| format!(" ({hint})"))
                        .unwrap_or_default();
                    return Err(format!("`{s}` is not one of {}{hint}", choices.join(", ")));
                }
                value.clone()
            }
            (ParamType::IntArray, Value::Array(a))
                if a.iter().all(|v| matches!(v, Value::Integer(_))) =>
            {
                for v in a {
                    bounded(num(v).unwrap_or_default())?;
                }
                value.clone()
            }
            (ParamType::FloatArray, Value::Array(a)) if a.iter().all(|v| num(v).is_some()) => {
                let mut out = Vec::new();
                for v in a {
                    let x = num(v).unwrap_or_default();
                    bounded(x)?;
                    out.push(Value::Float(x));
                }
                Value::Array(out)
            }
            (ParamType::StringArray, Value::Array(a))
                if a.iter().all(|v| matches!(v, Value::String(_))) =>
            {
                value.clone()
            }
            (ParamType::Table, Value::Table(t)) => {
                if let Some((k, v)) = t.iter().find(|(_, v)| !plain_value(v)) {
                    return Err(format!(
                        "entry `{k}` is {}; table entries must be strings, numbers, bools or arrays of them",
                        describe(v)
                    ));
                }
                value.clone()
            }
            _ => return Err(found()),
        };
        Ok(out)
    }
}

/// A table entry a stage can be given: a string, finite number, bool or (nested) array of them.
fn plain_value(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Boolean(_) => true,
        Value::Float(f) => f.is_finite(),
        Value::Array(a) => a.iter().all(plain_value),
        Value::Table(_) | Value::Datetime(_) => false,
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 60 => format!(
            "string \"{}…\" ({} characters)",
            s.chars().take(60).collect::<String>().escape_debug(),
            s.chars().count()
        ),
        Value::String(s) => format!("string \"{}\"", s.escape_debug()),
        Value::Integer(i) => format!("integer {i}"),
        Value::Float(f) if !f.is_finite() => {
            format!("the non-finite float {f} (NaN and infinities are never valid parameters)")
        }
        Value::Float(f) => format!("float {f}"),
        Value::Boolean(b) => format!("bool {b}"),
        Value::Datetime(d) => format!("datetime {d}"),
        Value::Array(_) => "an array".into(),
        Value::Table(_) => "a table".into(),
    }
}
