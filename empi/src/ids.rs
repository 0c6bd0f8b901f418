//! Public ids: `<prefix>_<value>` encoding and parsing (reference-behaviour.md §1.15).
//!
//! Integer ids (`u_N`, `cfg_N`, `job_N`, `pr_N`, `pm_N`, `prre_N`) follow the reference's parser,
//! Python's `int()` (surrounding whitespace, a sign and `_` between digits are accepted), except
//! that idem requires the prefix of the expected type (the reference accepts any known prefix in
//! most places) and only ASCII digits. Person ids are `p_` and a version-4 UUID in any format the
//! `uuid` crate parses, normalised to lowercase dashed form. Everything else is an [`IdError`],
//! which the API maps to 400 (the reference answers many of them with 500).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The kinds of public ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// `u_N`.
    User,
    /// `cfg_N`.
    Config,
    /// `job_N`.
    Job,
    /// `p_<uuid v4>`.
    Person,
    /// `pr_N`.
    PersonRecord,
    /// `pm_N` (a match group).
    PotentialMatch,
    /// `prre_N` (a scored pair).
    PredictionResult,
}

impl IdKind {
    /// Every kind.
    pub const ALL: [IdKind; 7] = [
        IdKind::User,
        IdKind::Config,
        IdKind::Job,
        IdKind::Person,
        IdKind::PersonRecord,
        IdKind::PotentialMatch,
        IdKind::PredictionResult,
    ];

    /// The prefix before the `_`.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "u",
            IdKind::Config => "cfg",
            IdKind::Job => "job",
            IdKind::Person => "p",
            IdKind::PersonRecord => "pr",
            IdKind::PotentialMatch => "pm",
            IdKind::PredictionResult => "prre",
        }
    }

    /// The name used in error messages, as the reference's ("Invalid Config ID").
    pub const fn name(self) -> &'static str {
        match self {
            IdKind::User => "User",
            IdKind::Config => "Config",
            IdKind::Job => "Job",
            IdKind::Person => "Person",
            IdKind::PersonRecord => "PersonRecord",
            IdKind::PotentialMatch => "PotentialMatch",
            IdKind::PredictionResult => "PredictionResult",
        }
    }
}

/// Why an id is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdErrorReason {
    /// It does not start with the expected `<prefix>_`.
    Prefix,
    /// The part after the prefix is not an integer.
    NotAnInteger,
    /// The integer is not a possible id (ids are 1 to 2^63 - 1).
    OutOfRange,
    /// The part after `p_` is not a UUID.
    NotAUuid,
    /// The UUID is not version 4.
    NotUuidV4,
}

impl fmt::Display for IdErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdErrorReason::Prefix => "it does not start with the expected prefix",
            IdErrorReason::NotAnInteger => "the part after the prefix is not an integer",
            IdErrorReason::OutOfRange => "the number is not a valid id",
            IdErrorReason::NotAUuid => "the part after the prefix is not a UUID",
            IdErrorReason::NotUuidV4 => "the UUID is not version 4",
        })
    }
}

/// A malformed public id. Its message is the reference's ("Invalid Config ID"); the reason
/// and the expected form are details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid {} ID", kind.name())]
pub struct IdError {
    /// The kind that was expected.
    pub kind: IdKind,
    /// What is wrong.
    pub reason: IdErrorReason,
}

impl IdError {
    /// The expected form, e.g. `cfg_<integer>`, for error details.
    pub fn expected(&self) -> String {
        match self.kind {
            IdKind::Person => "p_<uuid v4>".to_owned(),
            kind => format!("{}_<integer>", kind.prefix()),
        }
    }
}

/// Strips a recognised `<prefix>_` (any kind) if present, otherwise returns the string unchanged:
/// the reference's `remove_prefix`, used by search filters.
pub fn strip_known_prefix(s: &str) -> &str {
    match s.split_once('_') {
        Some((head, rest)) if IdKind::ALL.iter().any(|k| k.prefix() == head) => rest,
        _ => s,
    }
}

fn parse_int(s: &str, kind: IdKind) -> Result<i64, IdError> {
    let err = |reason| IdError { kind, reason };
    let rest = s
        .strip_prefix(kind.prefix())
        .and_then(|r| r.strip_prefix('_'))
        .ok_or(err(IdErrorReason::Prefix))?;
    let rest = rest.trim();
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'+') => (false, &rest[1..]),
        Some(b'-') => (true, &rest[1..]),
        _ => (false, rest),
    };
    // Python's int(): ASCII digits here, with single underscores only between digits.
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && !digits.contains("__");
    if !well_formed {
        return Err(err(IdErrorReason::NotAnInteger));
    }
    let mut value: i64 = 0;
    for b in bytes.iter().filter(|b| **b != b'_') {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(err(IdErrorReason::OutOfRange))?;
    }
    if negative || value == 0 {
        return Err(err(IdErrorReason::OutOfRange));
    }
    Ok(value)
}

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The kind of this id.
            pub const KIND: IdKind = $kind;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", Self::KIND.prefix(), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_int(s, Self::KIND).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

int_id!(
    /// A user's id, public form `u_N`.
    UserId,
    IdKind::User
);
int_id!(
    /// A config's id, public form `cfg_N`.
    ConfigId,
    IdKind::Config
);
int_id!(
    /// A job's id, public form `job_N`.
    JobId,
    IdKind::Job
);
int_id!(
    /// A person record's id, public form `pr_N`.
    PersonRecordId,
    IdKind::PersonRecord
);
int_id!(
    /// A potential match's (match group's) id, public form `pm_N`.
    PotentialMatchId,
    IdKind::PotentialMatch
);
int_id!(
    /// A prediction result's (scored pair's) id, public form `prre_N`.
    PredictionResultId,
    IdKind::PredictionResult
);

/// A person's public id: `p_` and its version-4 uuid (`persons.uuid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct PersonId(pub Uuid);

impl PersonId {
    /// The kind of this id.
    pub const KIND: IdKind = IdKind::Person;

    /// A new random (version 4) person id.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p_{}", self.0.hyphenated())
    }
}

impl FromStr for PersonId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let err = |reason| IdError {
            kind: IdKind::Person,
            reason,
        };
        let rest = s.strip_prefix("p_").ok_or(err(IdErrorReason::Prefix))?;
        let uuid = Uuid::parse_str(rest).map_err(|_| err(IdErrorReason::NotAUuid))?;
        if uuid.get_version_num() != 4 {
            return Err(err(IdErrorReason::NotUuidV4));
        }
        Ok(Self(uuid))
    }
}

impl Serialize for PersonId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PersonId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason<T: FromStr<Err = IdError> + fmt::Debug>(s: &str) -> IdErrorReason {
        s.parse::<T>().expect_err(s).reason
    }

    #[test]
    fn integer_ids_round_trip() {
        assert_eq!(ConfigId(5).to_string(), "cfg_5");
        assert_eq!(JobId(12).to_string(), "job_12");
        assert_eq!(UserId(1).to_string(), "u_1");
        assert_eq!(PersonRecordId(7).to_string(), "pr_7");
        assert_eq!(PotentialMatchId(9).to_string(), "pm_9");
        assert_eq!(PredictionResultId(3).to_string(), "prre_3");
        assert_eq!("cfg_5".parse(), Ok(ConfigId(5)));
        assert_eq!(
            "pm_9223372036854775807".parse(),
            Ok(PotentialMatchId(i64::MAX))
        );
        // Python int() syntax, as the reference.
        assert_eq!("pr_+7".parse(), Ok(PersonRecordId(7)));
        assert_eq!("pr_ 7 ".parse(), Ok(PersonRecordId(7)));
        assert_eq!("pr_1_000".parse(), Ok(PersonRecordId(1000)));
        assert_eq!("job_007".parse(), Ok(JobId(7)));
        let json = serde_json::to_string(&ConfigId(5)).expect("serialize");
        assert_eq!(json, r#""cfg_5""#);
        assert_eq!(
            serde_json::from_str::<ConfigId>(&json).expect("deserialize"),
            ConfigId(5)
        );
        assert!(serde_json::from_str::<ConfigId>(r#""cfg_x""#).is_err());
        assert!(serde_json::from_str::<ConfigId>("5").is_err());
    }

    #[test]
    fn malformed_integer_ids_are_errors() {
        // The reference's "Invalid Config ID" cases: cfg, cfg_t, job_1, 1.
        for s in [
            "cfg", "cfg_t", "job_1", "1", "", "CFG_1", "cfg1", "cfg__1", "u_1",
        ] {
            let e = s.parse::<ConfigId>().expect_err(s);
            assert_eq!(e.kind, IdKind::Config);
            assert_eq!(e.to_string(), "Invalid Config ID");
        }
        assert_eq!(reason::<ConfigId>("cfg"), IdErrorReason::Prefix);
        assert_eq!(reason::<ConfigId>("job_1"), IdErrorReason::Prefix);
        assert_eq!(reason::<ConfigId>("cfg_t"), IdErrorReason::NotAnInteger);
        assert_eq!(
            reason::<PotentialMatchId>("pm_abc"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_1__0"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm__1"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_1_"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_1.5"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_+-1"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_١"),
            IdErrorReason::NotAnInteger
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_0"),
            IdErrorReason::OutOfRange
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_-3"),
            IdErrorReason::OutOfRange
        );
        assert_eq!(
            reason::<PotentialMatchId>("pm_9223372036854775808"),
            IdErrorReason::OutOfRange
        );
        // pr_ is not a prefix of prre_ ids and vice versa.
        assert_eq!(reason::<PersonRecordId>("prre_1"), IdErrorReason::Prefix);
        assert_eq!(reason::<PredictionResultId>("pr_1"), IdErrorReason::Prefix);
        let e = "x".parse::<UserId>().expect_err("x");
        assert_eq!(e.expected(), "u_<integer>");
    }

    #[test]
    fn person_ids() {
        let uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        let id: PersonId = format!("p_{uuid}").parse().expect("valid");
        assert_eq!(id.to_string(), format!("p_{uuid}"));
        // Other formats are normalised to lowercase dashed form.
        for other in [
            "p_3F2504E0-4F89-41D3-9A0C-0305E82C3301",
            "p_3f2504e04f8941d39a0c0305e82c3301",
            "p_{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
            "p_urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        ] {
            assert_eq!(other.parse::<PersonId>(), Ok(id), "{other}");
        }
        let fresh = PersonId::new_v4();
        assert_eq!(fresh.to_string().parse(), Ok(fresh));
        assert_eq!(reason::<PersonId>(uuid), IdErrorReason::Prefix);
        assert_eq!(reason::<PersonId>("789"), IdErrorReason::Prefix);
        assert_eq!(
            reason::<PersonId>(&format!("x_{uuid}")),
            IdErrorReason::Prefix
        );
        assert_eq!(reason::<PersonId>("p_123"), IdErrorReason::NotAUuid);
        assert_eq!(
            reason::<PersonId>("p_3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            IdErrorReason::NotUuidV4
        );
        assert_eq!(
            "p_123".parse::<PersonId>().expect_err("bad").to_string(),
            "Invalid Person ID"
        );
        assert_eq!(
            serde_json::to_string(&id).expect("serialize"),
            format!("\"p_{uuid}\"")
        );
    }

    #[test]
    fn strips_known_prefixes_only() {
        assert_eq!(strip_known_prefix("p_123"), "123");
        assert_eq!(strip_known_prefix("pr_5"), "5");
        assert_eq!(strip_known_prefix("prre_5"), "5");
        assert_eq!(strip_known_prefix("cfg_1"), "1");
        assert_eq!(strip_known_prefix("a1"), "a1");
        assert_eq!(strip_known_prefix("x_1"), "x_1");
        assert_eq!(strip_known_prefix("rec_1_dup"), "rec_1_dup");
        assert_eq!(strip_known_prefix("pm_a_b"), "a_b");
    }
}
