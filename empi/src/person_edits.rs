//! Split and merge of persons outside potential matches (the reference can only edit a person inside
//! an active potential match). Both are versioned (the client sends the versions it read) and audited:
//! a split is a `person-split` event, a merge a `manual-match` event, each with its person actions
//! (`review` for the records that stay, `remove-record` + `add-record` for each record that moves) and
//! the caller as `performed_by`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::edits::{
    Changes, Comment, EditError, EditResult, Move, apply, check_comments, insert_event,
    insert_person, try_lock_match_update_shared, update_person,
};
use crate::ids::{PersonId, PersonRecordId, UserId};

/// A person as an edit left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedPerson {
    /// Its public id.
    pub id: PersonId,
    /// Its version after the edit.
    pub version: i64,
    /// Its records after the edit, in id order (empty: it was soft-deleted).
    pub person_record_ids: Vec<PersonRecordId>,
}

/// Moves some records of a person into new persons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The person to split.
    pub person_id: PersonId,
    /// The version the client read.
    pub version: i64,
    /// The records of each new person; at least one record must stay with the person.
    pub new_persons: Vec<Vec<PersonRecordId>>,
    /// Notes to store on records of the person.
    pub comments: Vec<Comment>,
}

/// What a split did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOutcome {
    /// The `person-split` event.
    pub event_id: i64,
    /// The person split, with the records it kept.
    pub person: EditedPerson,
    /// The new persons, in request order.
    pub new_persons: Vec<EditedPerson>,
}

/// A person and the version the client read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedPerson {
    /// The person.
    pub id: PersonId,
    /// Its version as read.
    pub version: i64,
}

/// Moves every record of the source persons into the target person; the emptied sources are
/// soft-deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The person that receives the records.
    pub target: VersionedPerson,
    /// The persons merged into it (one or more).
    pub sources: Vec<VersionedPerson>,
    /// Notes to store on records of the persons.
    pub comments: Vec<Comment>,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The `manual-match` event.
    pub event_id: i64,
    /// The target with all its records.
    pub person: EditedPerson,
    /// The sources, now without records and deleted, in request order.
    pub merged_persons: Vec<EditedPerson>,
}

#[derive(sqlx::FromRow)]
struct LockedPerson {
    id: i64,
    uuid: Uuid,
    version: i64,
    deleted: Option<DateTime<Utc>>,
}

async fn lock_persons(tx: &mut PgConnection, ids: &[Uuid]) -> EditResult<Vec<LockedPerson>> {
    Ok(sqlx::query_as(
        "SELECT id, uuid, version, deleted FROM persons WHERE uuid = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?)
}

async fn lock_records(tx: &mut PgConnection, persons: &[i64]) -> EditResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, person_id FROM person_records WHERE person_id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
    )
    .bind(persons)
    .fetch_all(&mut *tx)
    .await?)
}

fn ids(records: impl IntoIterator<Item = i64>) -> Vec<PersonRecordId> {
    let mut ids: Vec<PersonRecordId> = records.into_iter().map(PersonRecordId).collect();
    ids.sort_unstable();
    ids
}

/// Splits a person: the listed records move into new persons, the others stay.
pub async fn split_person(
    pool: &PgPool,
    user: UserId,
    request: &Split,
) -> EditResult<SplitOutcome> {
    if request.new_persons.is_empty() {
        return Err(EditError::Invalid(
            "A split should have 1 or more new persons".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for (index, records) in request.new_persons.iter().enumerate() {
        if records.is_empty() {
            return Err(EditError::Invalid(format!(
                "The new Person at index {index} should have 1 or more new_person_record_ids"
            )));
        }
        if let Some(record) = records.iter().find(|r| !seen.insert(r.0)) {
            return Err(EditError::Invalid(format!(
                "A PersonRecord ID cannot exist more than once in a split. PersonRecord {} exists twice.",
                record.0
            )));
        }
    }

    let mut tx = pool.begin().await?;
    try_lock_match_update_shared(&mut tx).await?;
    let locked = lock_persons(&mut tx, &[request.person_id.0]).await?;
    let person = match locked.first() {
        Some(p) if p.deleted.is_none() => p,
        _ => return Err(EditError::NotFound("Resource not found".into())),
    };
    if person.version != request.version {
        return Err(EditError::Conflict("Person version is outdated".into()));
    }
    let records: BTreeSet<i64> = lock_records(&mut tx, &[person.id])
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    if !seen.is_subset(&records) {
        return Err(EditError::Invalid(
            "PersonRecord IDs specified in new_person_record_ids must belong to the Person".into(),
        ));
    }
    if seen.len() == records.len() {
        return Err(EditError::Invalid(
            "A split must leave at least one PersonRecord in the Person".into(),
        ));
    }
    check_comments(
        &request.comments,
        &records,
        "PersonRecord IDs specified in comments must belong to the Person",
    )?;

    let (event, at) = insert_event(&mut tx, "person-split").await?;
    let kept: Vec<i64> = records.difference(&seen).copied().collect();
    let version = update_person(&mut tx, person.id, kept.len() as i64, at).await?;
    let mut moves = Vec::new();
    let mut new_persons = Vec::new();
    for new_records in &request.new_persons {
        let uuid = Uuid::new_v4();
        let id = insert_person(&mut tx, uuid, new_records.len() as i64, at).await?;
        moves.extend(new_records.iter().map(|r| Move {
            record: r.0,
            from: person.id,
            to: id,
        }));
        new_persons.push(EditedPerson {
            id: PersonId(uuid),
            version: 1,
            person_record_ids: ids(new_records.iter().map(|r| r.0)),
        });
    }
    let reviewed: Vec<(i64, i64)> = kept.iter().map(|r| (person.id, *r)).collect();
    moves.sort_unstable();
    apply(
        &mut tx,
        &Changes {
            event,
            at,
            group: None,
            user,
            reviewed: &reviewed,
            moves: &moves,
            comments: &request.comments,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SplitOutcome {
        event_id: event,
        person: EditedPerson {
            id: request.person_id,
            version,
            person_record_ids: ids(kept),
        },
        new_persons,
    })
}

/// Merges the source persons into the target person.
pub async fn merge_persons(
    pool: &PgPool,
    user: UserId,
    request: &Merge,
) -> EditResult<MergeOutcome> {
    if request.sources.is_empty() {
        return Err(EditError::Invalid(
            "A merge should have 1 or more source persons".into(),
        ));
    }
    let mut all: Vec<VersionedPerson> = vec![request.target];
    all.extend(request.sources.iter().copied());
    let mut distinct = BTreeSet::new();
    if all.iter().any(|p| !distinct.insert(p.id)) {
        return Err(EditError::Invalid(
            "The same Person UUID cannot exist more than once in a merge".into(),
        ));
    }

    let mut tx = pool.begin().await?;
    try_lock_match_update_shared(&mut tx).await?;
    let uuids: Vec<Uuid> = all.iter().map(|p| p.id.0).collect();
    let locked = lock_persons(&mut tx, &uuids).await?;
    let mut rows = Vec::with_capacity(all.len());
    for wanted in &all {
        let Some(row) = locked.iter().find(|p| p.uuid == wanted.id.0) else {
            return Err(EditError::Invalid(format!(
                "Person {} does not exist",
                wanted.id
            )));
        };
        if row.deleted.is_some() {
            return Err(EditError::Conflict(format!(
                "Person {} has been deleted",
                wanted.id
            )));
        }
        if row.version != wanted.version {
            return Err(EditError::Conflict(format!(
                "Person {} version is outdated",
                wanted.id
            )));
        }
        rows.push(row);
    }
    let person_ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let records = lock_records(&mut tx, &person_ids).await?;
    let all_records: BTreeSet<i64> = records.iter().map(|(r, _)| *r).collect();
    check_comments(
        &request.comments,
        &all_records,
        "PersonRecord IDs specified in comments must belong to the merged Persons",
    )?;

    let (event, at) = insert_event(&mut tx, "manual-match").await?;
    let target = rows[0].id;
    let version = update_person(&mut tx, target, records.len() as i64, at).await?;
    let mut merged_persons = Vec::new();
    for (source, wanted) in rows[1..].iter().zip(&request.sources) {
        let version = update_person(&mut tx, source.id, 0, at).await?;
        merged_persons.push(EditedPerson {
            id: wanted.id,
            version,
            person_record_ids: Vec::new(),
        });
    }
    let mut reviewed = Vec::new();
    let mut moves = Vec::new();
    for &(record, person) in &records {
        if person == target {
            reviewed.push((person, record));
        } else {
            moves.push(Move {
                record,
                from: person,
                to: target,
            });
        }
    }
    moves.sort_unstable_by_key(|m| (m.from, m.record));
    apply(
        &mut tx,
        &Changes {
            event,
            at,
            group: None,
            user,
            reviewed: &reviewed,
            moves: &moves,
            comments: &request.comments,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(MergeOutcome {
        event_id: event,
        person: EditedPerson {
            id: request.target.id,
            version,
            person_record_ids: ids(all_records),
        },
        merged_persons,
    })
}
