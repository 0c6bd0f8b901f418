//! The content hash that deduplicates person records.
//!
//! The reference hashes `concat_ws('|', fields...)`, which skips NULLs and does not escape `|`, so
//! rows that differ only in which field is NULL, or in where a `|` falls, collide and the second
//! one is silently dropped as a duplicate. This encoding is injective: a version byte, then per
//! field (always 15, in column order) either a NULL tag or a present tag, the UTF-8 length as a
//! big-endian `u64` and the bytes. Its SHA-256 is the hash. The SQL function
//! `record_content_hash(...)` of the migration produces the same bytes, so the load step may hash
//! in the database or in Rust.

use sha2::{Digest, Sha256};

/// The names of the 15 source fields of a person record, in the order they are hashed (and the
/// order of the CSV header and of the table's columns).
pub const RECORD_FIELDS: [&str; 15] = [
    "data_source",
    "source_person_id",
    "first_name",
    "last_name",
    "sex",
    "race",
    "birth_date",
    "death_date",
    "social_security_number",
    "address",
    "city",
    "state",
    "zip_code",
    "county",
    "phone",
];

/// The first byte of the hashed encoding; a different encoding would get a new version.
pub const CONTENT_HASH_VERSION: u8 = 1;

/// A record's SHA-256 content hash (`person_records.sha256`).
pub type ContentHash = [u8; 32];

const NULL_TAG: u8 = 0;
const PRESENT_TAG: u8 = 1;

/// The content hash of a record's source fields, given in [`RECORD_FIELDS`] order (`None` is
/// NULL). Different field values always give different encodings, so two hashes are equal only
/// if the rows are.
pub fn content_hash(fields: &[Option<&str>; 15]) -> ContentHash {
    let mut hasher = Sha256::new();
    hasher.update([CONTENT_HASH_VERSION]);
    for field in fields {
        match field {
            None => hasher.update([NULL_TAG]),
            Some(value) => {
                hasher.update([PRESENT_TAG]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
        }
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row with the two required fields and the rest NULL unless set.
    fn row<'a>(set: &[(usize, Option<&'a str>)]) -> [Option<&'a str>; 15] {
        let mut fields = [None; 15];
        fields[0] = Some("ds");
        fields[1] = Some("a1");
        for &(i, v) in set {
            fields[i] = v;
        }
        fields
    }

    /// The reference's `concat_ws('|', ...)`: NULLs skipped, no escaping.
    fn concat_ws(fields: &[Option<&str>; 15]) -> String {
        fields
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn rows_that_collide_under_concat_ws_do_not_collide() {
        let pairs = [
            // Which field is NULL: first_name "x" vs last_name "x".
            (row(&[(2, Some("x"))]), row(&[(3, Some("x"))])),
            // A '|' inside a value vs two values.
            (
                row(&[(2, Some("a|b"))]),
                row(&[(2, Some("a")), (3, Some("b"))]),
            ),
            // A '|' moved between neighbouring fields.
            (
                row(&[(2, Some("a|")), (3, Some("b"))]),
                row(&[(2, Some("a")), (3, Some("|b"))]),
            ),
            // The separator in the required fields.
            (
                {
                    let mut r = row(&[]);
                    r[0] = Some("ds|a1");
                    r[1] = Some("");
                    r
                },
                {
                    let mut r = row(&[]);
                    r[1] = Some("a1|");
                    r
                },
            ),
        ];
        for (a, b) in &pairs {
            assert_eq!(
                concat_ws(a),
                concat_ws(b),
                "collide in the reference: {a:?}"
            );
            assert_ne!(content_hash(a), content_hash(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn null_and_empty_differ() {
        // concat_ws keeps '' but not its position: an empty first name and an empty last name
        // both give "ds|a1|". Here NULL, and '' in each place, all differ.
        let null = row(&[]);
        let empty_first = row(&[(2, Some(""))]);
        let empty_last = row(&[(3, Some(""))]);
        let empty_phone = row(&[(14, Some(""))]);
        let hashes = [&null, &empty_first, &empty_last, &empty_phone].map(content_hash);
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                assert_ne!(hashes[i], hashes[j], "variants {i} and {j}");
            }
        }
        assert_eq!(concat_ws(&empty_first), concat_ws(&empty_last));
    }

    #[test]
    fn hash_is_deterministic_and_pinned() {
        let r = row(&[(2, Some("José")), (14, Some("555-0100"))]);
        assert_eq!(content_hash(&r), content_hash(&r.clone()));
        // Pinned: records already stored carry this hash, so the encoding must never change
        // without a new CONTENT_HASH_VERSION.
        let mut expected = vec![CONTENT_HASH_VERSION];
        for f in &r {
            match f {
                None => expected.push(0),
                Some(v) => {
                    expected.push(1);
                    expected.extend((v.len() as u64).to_be_bytes());
                    expected.extend(v.as_bytes());
                }
            }
        }
        let direct: ContentHash = Sha256::digest(&expected).into();
        assert_eq!(content_hash(&r), direct);
        assert_eq!(
            hex(&content_hash(&row(&[]))),
            hex(&Sha256::digest(
                b"\x01\x01\x00\x00\x00\x00\x00\x00\x00\x02ds\x01\x00\x00\x00\x00\x00\x00\x00\x02a1\
                  \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
            ))
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
