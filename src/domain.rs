//! Domain values shared by every layer, in one place with one spelling: a decision's
//! [`Status`], a label event's [`Protocol`] and [`Criterion`]. `store` persists them,
//! `selection`, `export`, `human` and `learn` produce and read them, `cli` and `gui` show them;
//! serde and `as_str` keep the spelling the database, JSON outputs, label files and policy files
//! have always used (`accepted`, `rejected`, `review`, `none`; `pairwise`, `likert`,
//! `best_of_n`, `multi`; criteria are free names, `overall` by default).

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

/// The protocol of a label event: how the rater judged (two items, a 1–5 rating, the best of
/// a set, one rating per dimension).
///
/// Ordered by spelling (as the strings were before), so sorted outputs keep their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Pairwise,
    Likert,
    BestOfN,
    Multi,
}

impl Protocol {
    /// Every protocol, in the order the workbench offers them.
    pub const ALL: [Protocol; 4] = [Self::Pairwise, Self::Likert, Self::BestOfN, Self::Multi];

    /// The stored and exchanged spelling (`label_events.protocol`, label files).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Likert => "likert",
            Self::BestOfN => "best_of_n",
            Self::Multi => "multi",
        }
    }

    /// The name the workbench shows.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Pairwise => "Pairwise (A vs B)",
            Self::Likert => "Likert (1–5)",
            Self::BestOfN => "Best of N",
            Self::Multi => "Multi-dimensional",
        }
    }

    /// The protocol spelled `s` (exactly as [`Protocol::as_str`] writes it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether events of this protocol compare items (pairwise and best-of-N: Bradley–Terry
    /// comparisons).
    #[must_use]
    pub const fn compares(self) -> bool {
        matches!(self, Self::Pairwise | Self::BestOfN)
    }
}

impl Ord for Protocol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Protocol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that is not a label protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProtocol(pub String);

impl fmt::Display for UnknownProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown protocol '{}' (expected one of ", self.0)?;
        for (i, p) in Protocol::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(p.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownProtocol {}

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

/// What a label judges (`overall` unless the study names another criterion; a multi-dimensional
/// event's is `multi`). A free name: serde and [`Criterion::as_str`] write it as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Criterion(String);

impl Criterion {
    /// The default criterion's name.
    pub const OVERALL: &'static str = "overall";

    /// The criterion named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The default criterion, `overall`.
    #[must_use]
    pub fn overall() -> Self {
        Self::new(Self::OVERALL)
    }

    /// The criterion's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Criterion {
    fn default() -> Self {
        Self::overall()
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl From<&str> for Criterion {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Criterion {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl std::borrow::Borrow<str> for Criterion {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Criterion {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Criterion {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Criterion {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
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

    #[test]
    fn protocol_spelling_round_trips_through_str_and_serde() {
        let spelled: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(spelled, ["pairwise", "likert", "best_of_n", "multi"]);
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string().parse::<Protocol>(), Ok(p));
            let j = serde_json::to_string(&p).unwrap();
            assert_eq!(j, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Protocol>(&j).unwrap(), p);
        }
        assert_eq!(format!("{:<10}|", Protocol::Likert), "likert    |");
        assert_eq!(Protocol::parse("Pairwise"), None);
        assert_eq!(
            "vote".parse::<Protocol>().unwrap_err().to_string(),
            "unknown protocol 'vote' (expected one of pairwise, likert, best_of_n, multi)"
        );
        assert!(serde_json::from_str::<Protocol>("\"bestofn\"").is_err());
    }

    #[test]
    fn protocols_sort_by_spelling() {
        let mut ps = Protocol::ALL.to_vec();
        ps.sort();
        let mut spelled: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
        spelled.sort_unstable();
        assert_eq!(ps.iter().map(|p| p.as_str()).collect::<Vec<_>>(), spelled);
        let keys: std::collections::BTreeMap<Protocol, usize> =
            [(Protocol::Pairwise, 3), (Protocol::Likert, 2)].into();
        assert_eq!(
            serde_json::to_string(&keys).unwrap(),
            r#"{"likert":2,"pairwise":3}"#
        );
    }

    #[test]
    fn criterion_is_a_plain_string_in_json() {
        let c = Criterion::new("sharpness");
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""sharpness""#);
        assert_eq!(
            serde_json::from_str::<Criterion>(r#""sharpness""#).unwrap(),
            c
        );
        assert_eq!(Criterion::default(), Criterion::overall());
        assert_eq!(Criterion::overall().as_str(), "overall");
        assert_eq!(c.to_string(), "sharpness");
        let name = String::from("sharpness");
        assert!(c == "sharpness" && c == *"sharpness" && c == name);
        assert!(serde_json::from_str::<Criterion>("3").is_err());
        let mut cs = [Criterion::from("b"), Criterion::from("a".to_string())];
        cs.sort();
        assert_eq!(cs[0], "a");
    }
}
