//! Domain values shared by every layer, in one place with one spelling: a decision's
//! [`Status`]. `store` persists it, `selection` and `export` produce and read it, `cli` and
//! `gui` show it; serde and [`Status::as_str`] keep the spelling the database, JSON outputs
//! and policy files have always used (`accepted`, `rejected`, `review`, `none`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The status of an image's latest decision (`none` = unflagged: a decision that clears an
/// earlier one).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Accepted,
    Rejected,
    Review,
    #[default]
    None,
}

impl Status {
    /// Every status, in the order the `decisions` log's check constraint lists them.
    pub const ALL: [Status; 4] = [Self::Accepted, Self::Rejected, Self::Review, Self::None];

    /// The stored and printed spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Review => "review",
            Self::None => "none",
        }
    }

    /// The word the workbench shows: the spelling, except `unflagged` for [`Status::None`].
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::None => "unflagged",
            s => s.as_str(),
        }
    }

    /// The status spelled `s` (exactly as [`Status::as_str`] writes it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that is not a decision status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown decision status '{}' (expected accepted, rejected, review or none)",
            self.0
        )
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_round_trips_through_str_and_serde() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string().parse::<Status>(), Ok(s));
            let j = serde_json::to_string(&s).unwrap();
            assert_eq!(j, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&j).unwrap(), s);
        }
        assert_eq!(Status::parse("Accepted"), None);
        assert!(
            "maybe"
                .parse::<Status>()
                .unwrap_err()
                .to_string()
                .contains("maybe")
        );
    }
}
