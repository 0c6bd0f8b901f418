//! Manual match of a potential match (reference-behaviour.md §4.7): a data steward re-partitions the
//! records of the group's persons, or confirms it as is ("not a match" when `person_updates` is empty).
//!
//! Messages are the reference's, word for word. Differences: stale versions, an already matched or
//! replaced group and a run holding the match-update lock are [`EditError::Conflict`]s (409, the
//! reference answers 400 or 500), and comments are stored as record notes (the reference drops them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::edits::{
    Changes, Comment, EditError, EditResult, Move, apply, check_comments, insert_event,
    insert_person, try_lock_match_update_shared, update_person,
};
use crate::ids::{PersonId, PersonRecordId, PotentialMatchId, UserId};

/// The new membership of one person: an existing one (`id` and its `version`) or a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonUpdate {
    /// The existing person, or `None` for a new person.
    pub id: Option<PersonId>,
    /// The version the client read (required for an existing person, absent for a new one).
    pub version: Option<i64>,
    /// All the records the person has after the match.
    pub new_person_record_ids: Vec<PersonRecordId>,
}

/// A manual match request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualMatch {
    /// The group.
    pub potential_match_id: PotentialMatchId,
    /// The group version the client read.
    pub potential_match_version: i64,
    /// The persons whose records change; empty: confirm the group as it is.
    pub person_updates: Vec<PersonUpdate>,
    /// Notes to store on records of the group.
    pub comments: Vec<Comment>,
}

/// What a manual match did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchOutcome {
    /// The `manual-match` event.
    pub event_id: i64,
    /// The group's version after the match.
    pub potential_match_version: i64,
}

fn invalid<T>(message: impl Into<String>) -> EditResult<T> {
    Err(EditError::Invalid(message.into()))
}

fn conflict<T>(message: &str) -> EditResult<T> {
    Err(EditError::Conflict(message.into()))
}

/// Checks the updates on their own, before any database access (the reference's pre-transaction
/// validation; only the first offence is reported).
pub fn validate_updates(updates: &[PersonUpdate]) -> EditResult<()> {
    for update in updates {
        let has_version = update.version.is_some_and(|v| v != 0);
        match update.id {
            Some(_) if !has_version => {
                return invalid("A PersonUpdate for an existing Person should specify a version");
            }
            None if has_version => {
                return invalid("A PersonUpdate for a new Person should not specify a version");
            }
            None if update.new_person_record_ids.is_empty() => {
                return invalid(
                    "A PersonUpdate for a new Person should have 1 or more new_record_ids",
                );
            }
            _ => {}
        }
    }
    let mut uuids = BTreeSet::new();
    for id in updates.iter().filter_map(|u| u.id) {
        if !uuids.insert(id) {
            return invalid("The same Person UUID cannot exist in more than one PersonUpdate");
        }
    }
    let name = |index: usize| match updates[index].id {
        Some(id) => id.0.hyphenated().to_string(),
        None => format!("index {index}"),
    };
    let mut seen: HashMap<PersonRecordId, usize> = HashMap::new();
    for (index, update) in updates.iter().enumerate() {
        for record in &update.new_person_record_ids {
            match seen.insert(*record, index) {
                Some(earlier) if earlier == index => {
                    return invalid(format!(
                        "A PersonRecord ID cannot exist twice in the same PersonUpdate. PersonRecord {} \
                         exists in update for Person {} twice.",
                        record.0,
                        name(index)
                    ));
                }
                Some(earlier) => {
                    return invalid(format!(
                        "A PersonRecord ID cannot exist in more than PersonUpdate. PersonRecord {} exists \
                         in updates for Person {} and Person {}.",
                        record.0,
                        name(earlier),
                        name(index)
                    ));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LockedGroup {
    deleted: Option<DateTime<Utc>>,
    matched: Option<DateTime<Utc>>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct LockedPerson {
    id: i64,
    uuid: Uuid,
    version: i64,
}

/// Matches the records of a potential match as the updates say, in one transaction with its
/// `manual-match` event, person actions, the group's `match` action and the notes.
pub async fn match_person_records(
    pool: &PgPool,
    user: UserId,
    request: &ManualMatch,
) -> EditResult<MatchOutcome> {
    validate_updates(&request.person_updates)?;
    let mut tx = pool.begin().await?;
    try_lock_match_update_shared(&mut tx).await?;
    let outcome = match_locked(&mut tx, user, request).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn match_locked(
    tx: &mut PgConnection,
    user: UserId,
    request: &ManualMatch,
) -> EditResult<MatchOutcome> {
    let group_id = request.potential_match_id.0;
    let group: Option<LockedGroup> = sqlx::query_as(
        "SELECT deleted, matched, version FROM match_groups WHERE id = $1 FOR UPDATE",
    )
    .bind(group_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(group) = group else {
        return invalid("Potential match does not exist");
    };
    if group.deleted.is_some() {
        return conflict("Potential match has been replaced");
    }
    if group.matched.is_some() {
        return conflict("Potential match has already been matched");
    }
    if group.version != request.potential_match_version {
        return conflict("Potential match version is outdated");
    }

    // The group's persons (those of the records its results reference) and all their records.
    let persons: Vec<LockedPerson> =
        sqlx::query_as(include_str!("queries/matches/lock_group_persons.sql"))
            .bind(group_id)
            .fetch_all(&mut *tx)
            .await?;
    let person_ids: Vec<i64> = persons.iter().map(|p| p.id).collect();
    let records: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, person_id FROM person_records WHERE person_id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
    )
    .bind(&person_ids)
    .fetch_all(&mut *tx)
    .await?;
    // Another edit may have moved a referenced record between the read and the locks.
    let now_persons: Vec<i64> =
        sqlx::query_scalar(include_str!("queries/matches/group_person_ids.sql"))
            .bind(group_id)
            .fetch_all(&mut *tx)
            .await?;
    if now_persons != person_ids {
        return conflict(
            "The persons of the potential match changed concurrently. Please reload it.",
        );
    }
    if records.is_empty() {
        return Err(EditError::Inconsistent(format!(
            "potential match {group_id} has no records"
        )));
    }

    let by_uuid: HashMap<Uuid, &LockedPerson> = persons.iter().map(|p| (p.uuid, p)).collect();
    let owner: HashMap<i64, i64> = records.iter().map(|&(r, p)| (r, p)).collect();
    for update in &request.person_updates {
        if let Some(id) = update.id
            && !by_uuid.contains_key(&id.0)
        {
            return invalid("Specified Person UUID must be related to PotentialMatch");
        }
        if update
            .new_person_record_ids
            .iter()
            .any(|r| !owner.contains_key(&r.0))
        {
            return invalid(
                "PersonRecord IDs specified in new_person_record_ids must be related to PotentialMatch",
            );
        }
    }
    let updated: BTreeSet<i64> = request
        .person_updates
        .iter()
        .filter_map(|u| u.id.map(|id| by_uuid[&id.0].id))
        .collect();
    let in_updates: BTreeSet<i64> = request
        .person_updates
        .iter()
        .flat_map(|u| u.new_person_record_ids.iter().map(|r| r.0))
        .collect();
    let mut current: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(record, person) in &records {
        current.entry(person).or_default().push(record);
    }
    for (person, person_records) in &current {
        for record in person_records {
            match (updated.contains(person), in_updates.contains(record)) {
                (true, false) => {
                    return invalid(
                        "PersonRecord IDs that are removed from a Person, must be added to another Person",
                    );
                }
                (false, true) => {
                    return invalid(
                        "PersonRecord IDs that are added to a Person, must be removed from another Person",
                    );
                }
                _ => {}
            }
        }
    }
    let all_records: BTreeSet<i64> = owner.keys().copied().collect();
    check_comments(
        &request.comments,
        &all_records,
        "PersonRecord IDs specified in comments must be related to PotentialMatch",
    )?;
    for update in &request.person_updates {
        if let Some(id) = update.id
            && Some(by_uuid[&id.0].version) != update.version
        {
            return conflict("Invalid Person UUID or version outdated");
        }
    }

    let (event, at) = insert_event(tx, "manual-match").await?;
    let mut reviewed = Vec::new();
    let mut moves = Vec::new();
    for update in &request.person_updates {
        let count = update.new_person_record_ids.len() as i64;
        let target = match update.id {
            Some(id) => {
                let person = by_uuid[&id.0].id;
                update_person(tx, person, count, at).await?;
                person
            }
            None => insert_person(tx, Uuid::new_v4(), count, at).await?,
        };
        for record in &update.new_person_record_ids {
            let from = owner[&record.0];
            if from == target {
                reviewed.push((target, record.0));
            } else {
                moves.push(Move {
                    record: record.0,
                    from,
                    to: target,
                });
            }
        }
    }
    for (person, person_records) in &current {
        if !updated.contains(person) {
            reviewed.extend(person_records.iter().map(|r| (*person, *r)));
        }
    }
    reviewed.sort_unstable();
    moves.sort_unstable_by_key(|m| (m.from, m.record));
    apply(
        tx,
        &Changes {
            event,
            at,
            group: Some(group_id),
            user,
            reviewed: &reviewed,
            moves: &moves,
            comments: &request.comments,
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO match_group_actions (match_event_id, match_group_id, type, performed_by_id) \
         VALUES ($1, $2, 'match', $3)",
    )
    .bind(event)
    .bind(group_id)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    let version: i64 = sqlx::query_scalar(
        "UPDATE match_groups SET updated = $2, matched = $2, version = version + 1 WHERE id = $1 \
         RETURNING version",
    )
    .bind(group_id)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(MatchOutcome {
        event_id: event,
        potential_match_version: version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(id: Option<u128>, version: Option<i64>, records: &[i64]) -> PersonUpdate {
        PersonUpdate {
            id: id.map(|n| PersonId(uuid::Builder::from_random_bytes(n.to_be_bytes()).into_uuid())),
            version,
            new_person_record_ids: records.iter().map(|r| PersonRecordId(*r)).collect(),
        }
    }

    fn message(updates: &[PersonUpdate]) -> String {
        validate_updates(updates).expect_err("invalid").to_string()
    }

    #[test]
    fn pre_transaction_messages_are_the_references() {
        assert!(validate_updates(&[]).is_ok());
        assert!(
            validate_updates(&[update(Some(1), Some(1), &[]), update(None, None, &[1])]).is_ok()
        );
        assert_eq!(
            message(&[update(Some(1), None, &[1])]),
            "A PersonUpdate for an existing Person should specify a version"
        );
        assert_eq!(
            message(&[update(Some(1), Some(0), &[1])]),
            "A PersonUpdate for an existing Person should specify a version"
        );
        assert_eq!(
            message(&[update(None, Some(2), &[1])]),
            "A PersonUpdate for a new Person should not specify a version"
        );
        assert!(validate_updates(&[update(None, Some(0), &[1])]).is_ok());
        assert_eq!(
            message(&[update(None, None, &[])]),
            "A PersonUpdate for a new Person should have 1 or more new_record_ids"
        );
        assert_eq!(
            message(&[
                update(Some(1), Some(1), &[1]),
                update(Some(1), Some(1), &[2])
            ]),
            "The same Person UUID cannot exist in more than one PersonUpdate"
        );
        assert_eq!(
            message(&[update(None, None, &[1]), update(None, None, &[2, 2])]),
            "A PersonRecord ID cannot exist twice in the same PersonUpdate. PersonRecord 2 exists in \
             update for Person index 1 twice."
        );
        assert_eq!(
            message(&[update(None, None, &[1]), update(None, None, &[2, 1])]),
            "A PersonRecord ID cannot exist in more than PersonUpdate. PersonRecord 1 exists in updates \
             for Person index 0 and Person index 1."
        );
        let named = update(Some(7), Some(1), &[3]);
        let uuid = named.id.expect("id").0.hyphenated().to_string();
        assert_eq!(
            message(&[named.clone(), update(None, None, &[3])]),
            format!(
                "A PersonRecord ID cannot exist in more than PersonUpdate. PersonRecord 3 exists in \
                 updates for Person {uuid} and Person index 1."
            )
        );
    }
}
