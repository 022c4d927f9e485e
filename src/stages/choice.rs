//! String parameters with a fixed set of values, parsed into types: a value outside the set is
//! an error naming the parameter and the accepted values, never a silent default.

/// A string parameter whose value is none of the kind's choices (the catalogue and the adapter
/// disagree: never silently mapped to a default).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{param}` = \"{value}\" is not one of {choices}")]
pub struct UnknownChoice {
    /// Parameter name.
    pub param: &'static str,
    /// The value given.
    pub value: String,
    /// The accepted values, comma-separated.
    pub choices: String,
}

/// Looks `value` up in `(name, choice)` pairs.
pub fn choose<T: Copy>(
    param: &'static str,
    value: &str,
    table: &[(&str, T)],
) -> Result<T, UnknownChoice> {
    table
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| UnknownChoice {
            param,
            value: value.to_string(),
            choices: table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_outside_the_choices_is_an_error_naming_them() {
        let table = [("corners", 1), ("corners_edges", 2)];
        assert_eq!(choose("sites", "corners_edges", &table), Ok(2));
        let e = choose("sites", "faces", &table).expect_err("not a choice");
        assert_eq!(
            e.to_string(),
            "parameter `sites` = \"faces\" is not one of corners, corners_edges"
        );
    }
}
