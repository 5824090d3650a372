//! The error type shared by the ranking and agreement statistics.

use std::fmt;

/// Why a statistic could not be computed. Statistics on too little data say so here
/// instead of returning a number (where the Python peers return NaN or raise).
#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// There is nothing to compute on (e.g. "no comparisons").
    Empty(&'static str),
    /// A comparison names an item index `>= n_items`.
    IndexOutOfRange {
        /// The offending index.
        index: usize,
        /// The number of items declared.
        n_items: usize,
    },
    /// The Bradley–Terry maximum-likelihood estimate does not exist (the win graph is not
    /// strongly connected) and no prior (`alpha > 0`) was given. The text says which items.
    MleDoesNotExist(String),
    /// Two inputs that must be parallel have different lengths.
    LengthMismatch {
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// Too little data for the statistic (e.g. "α needs at least two raters on an item").
    NotEnoughData(String),
    /// The statistic is undefined on this data (e.g. zero expected disagreement).
    Undefined(String),
    /// An input contains NaN or an infinity.
    NonFinite(&'static str),
    /// A parameter is out of its valid range.
    InvalidArgument(String),
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsError::Empty(what) => write!(f, "{what}"),
            StatsError::IndexOutOfRange { index, n_items } => {
                write!(
                    f,
                    "item index {index} is out of range (there are {n_items} items)"
                )
            }
            StatsError::MleDoesNotExist(why) => write!(
                f,
                "the Bradley–Terry maximum-likelihood estimate does not exist: {why}; \
                 set a prior alpha > 0 (e.g. 0.01) to regularise"
            ),
            StatsError::LengthMismatch { left, right } => {
                write!(f, "inputs have different lengths ({left} and {right})")
            }
            StatsError::NotEnoughData(why) => write!(f, "not enough data: {why}"),
            StatsError::Undefined(why) => write!(f, "undefined: {why}"),
            StatsError::NonFinite(what) => write!(f, "{what} contains NaN or infinite values"),
            StatsError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
        }
    }
}

impl std::error::Error for StatsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_readable() {
        let e = StatsError::NotEnoughData("α needs at least two raters on an item".into());
        assert_eq!(
            e.to_string(),
            "not enough data: α needs at least two raters on an item"
        );
        let e = StatsError::MleDoesNotExist("item 3 never won".into());
        assert!(e.to_string().contains("alpha > 0"));
    }
}
