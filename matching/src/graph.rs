//! The match graph: grouping scored pairs into potential matches and deciding auto-matches.
//!
//! This is the reference's `MatchGraph.analyze_graph` (reference-behaviour.md §4.6) with idem's
//! "whole persons move" improvement: the crosswalk holds *every* record of each person touched by a
//! result, so when a person loses the tie-break all of its records move into the chosen person and a
//! person is never silently split.
//!
//! The graph has person and record nodes, membership edges (record–person) and result edges
//! (record–record). Because every record belongs to exactly one person, a record node is always in
//! its person's component, so components are computed over persons only: each result unites the
//! persons of its two records. Two union-finds (all results; results above the auto-match threshold)
//! replace the reference's graph library: near-linear time and no per-component subgraph copies.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use foldhash::fast::FixedState;
use hashbrown::HashMap;

/// A scored record pair. Its row number is its position in the slice given to [`MatchGraph::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphResult {
    /// The match probability.
    pub probability: f64,
    /// One record of the pair (`l < r` in stored results; a self-loop `l == r` is tolerated).
    pub l: i64,
    /// The other record of the pair.
    pub r: i64,
}

/// A person of the crosswalk, as read (and locked) before the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrosswalkPerson {
    /// The person's id.
    pub id: i64,
    /// When the person was created: the earliest wins a tie on `record_count`.
    pub created: DateTime<Utc>,
    /// The person's version as read: person actions carry it for the optimistic-concurrency check.
    pub version: i64,
    /// The person row's record count: the highest wins the choice of the surviving person.
    pub record_count: i64,
}

/// A record's membership in a person. The crosswalk lists every record of each person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrosswalkRecord {
    /// The record id.
    pub record: i64,
    /// The id of the person it belongs to.
    pub person: i64,
}

/// Inputs that cannot form a match graph (reference §4.6.1, plus the checks a flat crosswalk needs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// No results were given.
    #[error("results must not be empty")]
    EmptyResults,
    /// No persons were given.
    #[error("persons must not be empty")]
    EmptyPersons,
    /// A result references a record that is not in the crosswalk.
    #[error(
        "the crosswalk must contain a person for each record referenced in the results \
         (record {record} has none)"
    )]
    MissingPerson {
        /// The record without a person.
        record: i64,
    },
    /// A crosswalk person none of whose records is referenced by a result.
    #[error(
        "the crosswalk must not contain persons whose records no result references (person {person})"
    )]
    ExtraPerson {
        /// The unreferenced person.
        person: i64,
    },
    /// A person id appears twice in the crosswalk.
    #[error("person {person} appears twice in the crosswalk")]
    DuplicatePerson {
        /// The repeated person id.
        person: i64,
    },
    /// A record appears twice in the crosswalk: a record belongs to exactly one person.
    #[error("record {record} appears twice in the crosswalk")]
    DuplicateRecord {
        /// The repeated record id.
        record: i64,
    },
    /// A crosswalk record names a person that is not in the crosswalk.
    #[error("record {record} belongs to person {person}, which is not in the crosswalk")]
    UnknownPerson {
        /// The record.
        record: i64,
        /// Its unknown person.
        person: i64,
    },
    /// More than `u32::MAX` persons or records.
    #[error("the match graph is too large")]
    TooLarge,
}

/// A connected component of results and memberships: one potential match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// A key that depends only on the component's membership, not on the order of the input: its
    /// smallest record id (over every crosswalk record of its persons).
    pub key: i64,
    /// The row of the group's first result. Groups are numbered in this order.
    pub first_result: usize,
    /// How many results the group holds.
    pub results: usize,
    /// How many persons the group's records belong to after the auto-matches.
    pub persons: usize,
    /// Whether the auto-matches left a single person (the group is resolved).
    pub matched: bool,
}

/// A record moving from the person that lost the tie-break to the chosen person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonAction {
    /// The group (index into [`MatchAnalysis::groups`]) holding both persons.
    pub group: u32,
    /// The record that moves.
    pub record: i64,
    /// The person it leaves.
    pub from_person: i64,
    /// That person's version as read.
    pub from_version: i64,
    /// The chosen person it joins.
    pub to_person: i64,
    /// The chosen person's version as read.
    pub to_version: i64,
}

/// The outcome of [`MatchGraph::analyze`].
#[derive(Debug, Clone, PartialEq)]
pub struct MatchAnalysis {
    /// The groups, ordered by their first result.
    pub groups: Vec<Group>,
    /// For each result (by row), the index of its group in `groups`.
    pub result_groups: Vec<u32>,
    /// Every record move, ordered by record id.
    pub person_actions: Vec<PersonAction>,
}

/// Validated results and crosswalk with their groups computed; [`analyze`](Self::analyze) adds the
/// auto-matches for a threshold.
#[derive(Debug)]
pub struct MatchGraph<'a> {
    results: &'a [GraphResult],
    persons: &'a [CrosswalkPerson],
    records: &'a [CrosswalkRecord],
    /// For each result, the person indexes of its two records.
    result_persons: Vec<[u32; 2]>,
    /// For each crosswalk record, its person index.
    record_persons: Vec<u32>,
    /// For each person, its group index.
    person_groups: Vec<u32>,
    /// For each result, its group index.
    result_groups: Vec<u32>,
    /// The groups without their auto-match outcome (`persons` and `matched` unset).
    groups: Vec<Group>,
}

impl<'a> MatchGraph<'a> {
    /// Validates the inputs and computes the groups (connected components of results and
    /// memberships).
    ///
    /// The person set of the crosswalk must equal the set of persons of the records the results
    /// reference, and every record must belong to exactly one listed person.
    pub fn new(
        results: &'a [GraphResult],
        persons: &'a [CrosswalkPerson],
        records: &'a [CrosswalkRecord],
    ) -> Result<Self, GraphError> {
        if results.is_empty() {
            return Err(GraphError::EmptyResults);
        }
        if persons.is_empty() {
            return Err(GraphError::EmptyPersons);
        }
        if persons.len() > u32::MAX as usize || records.len() > u32::MAX as usize {
            return Err(GraphError::TooLarge);
        }

        let mut person_index = IdIndex::new(persons.len(), persons.iter().map(|p| p.id), 0x9e37);
        for (i, p) in persons.iter().enumerate() {
            if !person_index.insert(p.id, i as u32) {
                return Err(GraphError::DuplicatePerson { person: p.id });
            }
        }
        let mut record_index =
            IdIndex::new(records.len(), records.iter().map(|m| m.record), 0x7f4a);
        let mut record_persons = Vec::with_capacity(records.len());
        for m in records {
            let Some(p) = person_index.get(m.person) else {
                return Err(GraphError::UnknownPerson {
                    record: m.record,
                    person: m.person,
                });
            };
            if !record_index.insert(m.record, p) {
                return Err(GraphError::DuplicateRecord { record: m.record });
            }
            record_persons.push(p);
        }
        drop(person_index);

        let mut referenced = vec![false; persons.len()];
        let mut result_persons = Vec::with_capacity(results.len());
        let mut all = UnionFind::new(persons.len());
        for res in results {
            let person_of = |record: i64| {
                record_index
                    .get(record)
                    .ok_or(GraphError::MissingPerson { record })
            };
            let (pl, pr) = (person_of(res.l)?, person_of(res.r)?);
            referenced[pl as usize] = true;
            referenced[pr as usize] = true;
            all.union(pl, pr);
            result_persons.push([pl, pr]);
        }
        drop(record_index);
        if let Some(i) = referenced.iter().position(|r| !r) {
            return Err(GraphError::ExtraPerson {
                person: persons[i].id,
            });
        }

        // Number the groups in the order of their first result, as the reference lists them.
        const UNSET: u32 = u32::MAX;
        let mut root_groups = vec![UNSET; persons.len()];
        let mut groups = Vec::new();
        let mut result_groups = Vec::with_capacity(results.len());
        for (row, &[pl, _]) in result_persons.iter().enumerate() {
            let root = all.find(pl) as usize;
            if root_groups[root] == UNSET {
                root_groups[root] = groups.len() as u32;
                groups.push(Group {
                    key: i64::MAX,
                    first_result: row,
                    results: 0,
                    persons: 0,
                    matched: false,
                });
            }
            let g = root_groups[root];
            groups[g as usize].results += 1;
            result_groups.push(g);
        }
        // Every person is referenced, so every root has a group.
        let person_groups: Vec<u32> = (0..persons.len() as u32)
            .map(|p| root_groups[all.find(p) as usize])
            .collect();
        for (m, &p) in records.iter().zip(&record_persons) {
            let key = &mut groups[person_groups[p as usize] as usize].key;
            *key = (*key).min(m.record);
        }

        Ok(Self {
            results,
            persons,
            records,
            result_persons,
            record_persons,
            person_groups,
            result_groups,
            groups,
        })
    }

    /// The groups and their results, before any auto-match (`persons` and `matched` unset).
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Decides the auto-matches: results with `probability > auto_threshold` (strict, so 1.0
    /// disables auto-matching) join their persons; in each joined set the chosen person is the one
    /// with the highest `record_count`, then the earliest `created`, then the lowest id, and every
    /// record of every other person moves into it.
    pub fn analyze(&self, auto_threshold: f64) -> MatchAnalysis {
        let n = self.persons.len();
        let mut auto = UnionFind::new(n);
        for (res, &[pl, pr]) in self.results.iter().zip(&self.result_persons) {
            if res.probability > auto_threshold {
                auto.union(pl, pr);
            }
        }

        let mut best: Vec<u32> = (0..n as u32).collect();
        for p in 0..n as u32 {
            let root = auto.find(p) as usize;
            if self.wins(p, best[root]) {
                best[root] = p;
            }
        }
        let chosen: Vec<u32> = (0..n as u32).map(|p| best[auto.find(p) as usize]).collect();

        let mut groups = self.groups.clone();
        for (p, &c) in chosen.iter().enumerate() {
            if c as usize == p {
                groups[self.person_groups[p] as usize].persons += 1;
            }
        }
        for g in &mut groups {
            g.matched = g.persons == 1;
        }

        let mut person_actions: Vec<PersonAction> = self
            .records
            .iter()
            .zip(&self.record_persons)
            .filter_map(|(m, &p)| {
                let c = chosen[p as usize];
                (c != p).then(|| {
                    let (from, to) = (&self.persons[p as usize], &self.persons[c as usize]);
                    PersonAction {
                        group: self.person_groups[c as usize],
                        record: m.record,
                        from_person: from.id,
                        from_version: from.version,
                        to_person: to.id,
                        to_version: to.version,
                    }
                })
            })
            .collect();
        person_actions.sort_unstable_by_key(|a| a.record);

        MatchAnalysis {
            groups,
            result_groups: self.result_groups.clone(),
            person_actions,
        }
    }

    /// Whether person `a` is preferred over person `b` as the surviving person.
    fn wins(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.persons[a as usize], &self.persons[b as usize]);
        let order = a
            .record_count
            .cmp(&b.record_count)
            .then(b.created.cmp(&a.created))
            .then(b.id.cmp(&a.id));
        order == Ordering::Greater
    }
}

/// A map from database ids to dense indexes. Database ids are identity columns, so the ids of a
/// crosswalk are usually dense: then a direct-indexed table replaces hashing (several times faster
/// for millions of ids); sparse ids fall back to a hash map.
#[derive(Debug)]
enum IdIndex {
    Dense { min: i64, slots: Vec<u32> },
    Hashed(HashMap<i64, u32, FixedState>),
}

impl IdIndex {
    const EMPTY: u32 = u32::MAX;

    /// An empty index sized for `len` of `ids` (which it only scans for their range).
    fn new(len: usize, ids: impl Iterator<Item = i64> + Clone, seed: u64) -> Self {
        let (min, max) = ids.fold((i64::MAX, i64::MIN), |(lo, hi), id| {
            (lo.min(id), hi.max(id))
        });
        let span = (max as i128 - min as i128 + 1).max(0) as u128;
        // At most ~16 bytes per id for the table, i.e. ids at least a quarter dense.
        if len > 0 && span <= (len as u128) * 4 + 1024 {
            Self::Dense {
                min,
                slots: vec![Self::EMPTY; span as usize],
            }
        } else {
            Self::Hashed(HashMap::with_capacity_and_hasher(
                len,
                FixedState::with_seed(seed),
            ))
        }
    }

    /// Adds `id`; false if it was already present.
    fn insert(&mut self, id: i64, index: u32) -> bool {
        match self {
            Self::Dense { min, slots } => {
                let slot = &mut slots[(id - *min) as usize];
                let fresh = *slot == Self::EMPTY;
                *slot = index;
                fresh
            }
            Self::Hashed(map) => map.insert(id, index).is_none(),
        }
    }

    fn get(&self, id: i64) -> Option<u32> {
        match self {
            Self::Dense { min, slots } => {
                let offset = usize::try_from(id.checked_sub(*min)?).ok()?;
                slots.get(offset).copied().filter(|&i| i != Self::EMPTY)
            }
            Self::Hashed(map) => map.get(&id).copied(),
        }
    }
}

/// Union-find with path halving and union by size.
#[derive(Debug)]
struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

#[cfg(test)]
mod tests {
    //! The reference's `test_match_graph.py` cases and the worked examples of reference §4.6.3.
    //!
    //! Adaptation to whole-person moves: idem's crosswalk lists every record of each person and a
    //! person's `record_count` equals its number of records. The reference's tests give every person
    //! `record_count` 1 even when it lists several records; where that changes the chosen person, the
    //! test asserts both the reference's literal input (same outcome as the reference) and the
    //! consistent input (idem's outcome), and says so.

    use super::*;

    type Action = (i64, i64, i64, i64, i64);

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_735_000_000 + secs, 0).expect("valid timestamp")
    }

    fn results(pairs: &[(f64, i64, i64)]) -> Vec<GraphResult> {
        pairs
            .iter()
            .map(|&(probability, l, r)| GraphResult { probability, l, r })
            .collect()
    }

    /// Results that all have probability 0.5.
    fn pending(pairs: &[(i64, i64)]) -> Vec<GraphResult> {
        pairs
            .iter()
            .map(|&(l, r)| GraphResult {
                probability: 0.5,
                l,
                r,
            })
            .collect()
    }

    #[derive(Debug, Clone, Default)]
    struct Crosswalk {
        persons: Vec<CrosswalkPerson>,
        records: Vec<CrosswalkRecord>,
    }

    impl Crosswalk {
        /// Persons given as (id, records); each has version 1, the same created time and
        /// `record_count` = its number of records (idem's consistent crosswalk).
        fn of(persons: &[(i64, &[i64])]) -> Self {
            let mut c = Self::default();
            for &(id, records) in persons {
                c.persons.push(CrosswalkPerson {
                    id,
                    created: at(0),
                    version: 1,
                    record_count: records.len() as i64,
                });
                c.records.extend(
                    records
                        .iter()
                        .map(|&record| CrosswalkRecord { record, person: id }),
                );
            }
            c
        }

        /// Person `i` owns record `i`, for each `i` in `ids`.
        fn singletons(ids: std::ops::RangeInclusive<i64>) -> Self {
            let mut c = Self::default();
            for id in ids {
                c = c.with(id, &[id]);
            }
            c
        }

        fn with(mut self, id: i64, records: &[i64]) -> Self {
            let more = Self::of(&[(id, records)]);
            self.persons.extend(more.persons);
            self.records.extend(more.records);
            self
        }

        fn person(&mut self, id: i64) -> &mut CrosswalkPerson {
            self.persons
                .iter_mut()
                .find(|p| p.id == id)
                .expect("person in crosswalk")
        }

        /// The reference tests' literal input: every person has `record_count` 1.
        fn all_counts_one(mut self) -> Self {
            for p in &mut self.persons {
                p.record_count = 1;
            }
            self
        }

        fn analyze(&self, results: &[GraphResult], threshold: f64) -> MatchAnalysis {
            MatchGraph::new(results, &self.persons, &self.records)
                .expect("valid graph")
                .analyze(threshold)
        }

        fn error(&self, results: &[GraphResult]) -> GraphError {
            MatchGraph::new(results, &self.persons, &self.records).expect_err("invalid graph")
        }
    }

    /// The result rows of each group, in group order, with its matched flag.
    fn group_rows(a: &MatchAnalysis) -> Vec<(Vec<usize>, bool)> {
        let mut rows: Vec<(Vec<usize>, bool)> =
            a.groups.iter().map(|g| (Vec::new(), g.matched)).collect();
        for (row, &g) in a.result_groups.iter().enumerate() {
            rows[g as usize].0.push(row);
        }
        for (g, (r, _)) in a.groups.iter().zip(&rows) {
            assert_eq!(g.first_result, r[0], "groups are ordered by first result");
            assert_eq!(g.results, r.len(), "result count of the group");
        }
        rows
    }

    /// The actions of each group that has any, in group order, as the reference's tuples
    /// (record, from, from version, to, to version) ordered by record.
    fn actions_by_group(a: &MatchAnalysis) -> Vec<Vec<Action>> {
        let mut by_group = vec![Vec::new(); a.groups.len()];
        for x in &a.person_actions {
            by_group[x.group as usize].push((
                x.record,
                x.from_person,
                x.from_version,
                x.to_person,
                x.to_version,
            ));
        }
        by_group.retain(|g| !g.is_empty());
        by_group
    }

    fn groups(spec: &[(&[usize], bool)]) -> Vec<(Vec<usize>, bool)> {
        spec.iter().map(|(r, m)| (r.to_vec(), *m)).collect()
    }

    #[test]
    fn groups_simple() {
        let res = pending(&[(1, 2), (1, 3), (2, 4), (5, 6)]);
        let a = Crosswalk::singletons(1..=6).analyze(&res, 1.0);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2], false), (&[3], false)])
        );
        assert_eq!(a.result_groups, [0, 0, 0, 1]);
        assert_eq!(a.groups[0].key, 1);
        assert_eq!(a.groups[1].key, 5);
        assert_eq!(a.groups[0].persons, 4);
        assert_eq!(a.groups[1].persons, 2);
        assert!(a.person_actions.is_empty());
    }

    #[test]
    fn groups_complex() {
        let res = pending(&[
            (1, 2),
            (3, 1),
            (4, 2),
            (5, 3),
            (5, 6),
            (7, 8),
            (8, 9),
            (9, 10),
            (11, 12),
        ]);
        let a = Crosswalk::singletons(1..=12).analyze(&res, 1.0);
        assert_eq!(
            group_rows(&a),
            groups(&[
                (&[0, 1, 2, 3, 4], false),
                (&[5, 6, 7], false),
                (&[8], false)
            ])
        );
        assert!(a.person_actions.is_empty());
    }

    #[test]
    fn groups_complex_with_a_self_loop() {
        let res = pending(&[
            (1, 2),
            (2, 2),
            (3, 2),
            (3, 1),
            (4, 5),
            (4, 6),
            (4, 7),
            (8, 9),
            (9, 10),
            (10, 11),
            (11, 4),
            (12, 13),
            (14, 15),
            (16, 17),
            (19, 18),
        ]);
        let a = Crosswalk::singletons(1..=19).analyze(&res, 1.0);
        assert_eq!(
            group_rows(&a),
            groups(&[
                (&[0, 1, 2, 3], false),
                (&[4, 5, 6, 7, 8, 9, 10], false),
                (&[11], false),
                (&[12], false),
                (&[13], false),
                (&[14], false),
            ])
        );
        assert_eq!(a.groups[5].key, 18);
        assert!(a.person_actions.is_empty());

        // A self-loop alone is a group of one person: matched, nothing moves.
        let a = Crosswalk::singletons(1..=1).analyze(&pending(&[(1, 1)]), 0.9);
        assert_eq!(group_rows(&a), groups(&[(&[0], true)]));
        assert!(a.person_actions.is_empty());
    }

    #[test]
    fn groups_linked_by_a_common_person() {
        // No result joins records 3 and 4, but both belong to person 3.
        let res = pending(&[(1, 2), (2, 3), (4, 5), (6, 7)]);
        let c = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (3, &[3, 4]),
            (5, &[5]),
            (6, &[6]),
            (7, &[7]),
        ]);
        let a = c.analyze(&res, 1.0);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2], false), (&[3], false)])
        );
        assert_eq!(a.groups[0].persons, 4);
        assert!(a.person_actions.is_empty());
    }

    #[test]
    fn rejects_invalid_inputs() {
        let one = pending(&[(1, 2)]);
        let c = Crosswalk::singletons(1..=2);
        assert_eq!(c.error(&[]), GraphError::EmptyResults);
        assert_eq!(
            GraphError::EmptyResults.to_string(),
            "results must not be empty"
        );
        assert_eq!(Crosswalk::default().error(&one), GraphError::EmptyPersons);
        assert_eq!(
            GraphError::EmptyPersons.to_string(),
            "persons must not be empty"
        );
        assert_eq!(
            Crosswalk::singletons(1..=1).error(&one),
            GraphError::MissingPerson { record: 2 }
        );
        assert_eq!(
            Crosswalk::singletons(1..=3).error(&one),
            GraphError::ExtraPerson { person: 3 }
        );
        // A person listed without any record is extra as well.
        let mut no_records = c.clone();
        no_records.persons.push(CrosswalkPerson {
            id: 9,
            ..c.persons[0]
        });
        assert_eq!(
            no_records.error(&one),
            GraphError::ExtraPerson { person: 9 }
        );
        assert_eq!(
            c.clone().with(1, &[3]).error(&one),
            GraphError::DuplicatePerson { person: 1 }
        );
        assert_eq!(
            c.clone().with(3, &[2]).error(&one),
            GraphError::DuplicateRecord { record: 2 }
        );
        let mut unknown = c.clone();
        unknown.records.push(CrosswalkRecord {
            record: 7,
            person: 8,
        });
        assert_eq!(
            unknown.error(&one),
            GraphError::UnknownPerson {
                record: 7,
                person: 8
            }
        );
    }

    #[test]
    fn single_auto_match_moves_to_the_lowest_id() {
        let res = results(&[(0.5, 1, 2), (1.0, 1, 3), (0.5, 2, 4), (0.5, 5, 6)]);
        let a = Crosswalk::singletons(1..=6).analyze(&res, 0.9);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2], false), (&[3], false)])
        );
        assert_eq!(actions_by_group(&a), [vec![(3, 3, 1, 1, 1)]]);
        assert_eq!(a.groups[0].persons, 3, "persons 1, 2 and 4 remain");
    }

    #[test]
    fn multiple_disconnected_auto_matches() {
        let res = results(&[
            (0.5, 1, 2),
            (0.5, 1, 3),
            (1.0, 2, 4),
            (1.0, 5, 6),
            (0.5, 6, 7),
            (0.5, 8, 9),
        ]);
        let a = Crosswalk::singletons(1..=9).analyze(&res, 0.9);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2], false), (&[3, 4], false), (&[5], false)])
        );
        assert_eq!(
            actions_by_group(&a),
            [vec![(4, 4, 1, 2, 1)], vec![(6, 6, 1, 5, 1)]]
        );
    }

    #[test]
    fn chain_of_auto_matches_moves_into_one_person() {
        // 2, 3 and 4 all end up in person 1.
        let res = results(&[
            (1.0, 1, 2),
            (1.0, 1, 3),
            (1.0, 2, 4),
            (0.5, 4, 5),
            (1.0, 6, 7),
            (0.5, 7, 8),
            (0.5, 9, 10),
        ]);
        let a = Crosswalk::singletons(1..=10).analyze(&res, 0.9);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2, 3], false), (&[4, 5], false), (&[6], false)])
        );
        assert_eq!(
            actions_by_group(&a),
            [
                vec![(2, 2, 1, 1, 1), (3, 3, 1, 1, 1), (4, 4, 1, 1, 1)],
                vec![(7, 7, 1, 6, 1)],
            ]
        );
    }

    #[test]
    fn unreferenced_record_moves_with_its_person() {
        // Person 5 owns records 5 and 6; only 6 is in an auto-match (4–6).
        let res = results(&[
            (0.5, 1, 2),
            (0.5, 2, 3),
            (1.0, 4, 6),
            (0.5, 5, 7),
            (0.5, 8, 9),
        ]);
        let c = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (3, &[3]),
            (4, &[4]),
            (5, &[5, 6]),
            (7, &[7]),
            (8, &[8]),
            (9, &[9]),
        ]);
        let expected_groups = groups(&[(&[0, 1], false), (&[2, 3], false), (&[4], false)]);

        // The reference's input (person 5 with record_count 1): both of its records move to 4.
        let a = c.clone().all_counts_one().analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![(5, 5, 1, 4, 1), (6, 5, 1, 4, 1)]]
        );

        // Adapted: person 5 really has 2 records, so it is chosen and record 4 moves instead.
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(actions_by_group(&a), [vec![(4, 4, 1, 5, 1)]]);
        assert_eq!(a.groups[1].persons, 2, "persons 5 and 7 remain");
    }

    #[test]
    fn person_with_records_no_result_references_moves_whole() {
        // Records 5 and 7 are in no result; persons 3 = {3, 4} and 5 = {5, 6, 7}.
        let res = results(&[(0.5, 1, 2), (0.5, 2, 3), (1.0, 4, 6), (0.5, 8, 9)]);
        let c = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (3, &[3, 4]),
            (5, &[5, 6, 7]),
            (8, &[8]),
            (9, &[9]),
        ]);
        let expected_groups = groups(&[(&[0, 1, 2], false), (&[3], false)]);

        // The reference's input (all record_count 1): all three records of person 5 move to 3.
        let a = c.clone().all_counts_one().analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![(5, 5, 1, 3, 1), (6, 5, 1, 3, 1), (7, 5, 1, 3, 1)]]
        );

        // Adapted: person 5 has the most records, so both records of person 3 move into it.
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![(3, 3, 1, 5, 1), (4, 3, 1, 5, 1)]]
        );
        assert_eq!(a.groups[0].key, 1);
    }

    /// Persons 4 = {3, 4}, 5 = {5} and 7 = {6, 7, 8} merge through 4–5 and 5–6.
    fn three_person_crosswalk(last: i64) -> Crosswalk {
        Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (4, &[3, 4]),
            (5, &[5]),
            (7, &[6, 7, 8]),
            (10, &[10]),
            (11, &[11]),
        ])
        .with(last, &[last])
    }

    #[test]
    fn three_person_merge() {
        let res = results(&[
            (0.5, 1, 2),
            (1.0, 4, 5),
            (1.0, 5, 6),
            (0.5, 5, 9),
            (0.5, 10, 11),
        ]);
        let c = three_person_crosswalk(9);
        let expected_groups = groups(&[(&[0], false), (&[1, 2, 3], false), (&[4], false)]);

        // The reference's input (all record_count 1): records 5, 6, 7, 8 move to person 4. The
        // group is not matched because person 9 remains.
        let a = c.clone().all_counts_one().analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![
                (5, 5, 1, 4, 1),
                (6, 7, 1, 4, 1),
                (7, 7, 1, 4, 1),
                (8, 7, 1, 4, 1),
            ]]
        );

        // Adapted: person 7 has the most records (3), so persons 4 and 5 move into it.
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![(3, 4, 1, 7, 1), (4, 4, 1, 7, 1), (5, 5, 1, 7, 1)]]
        );
        assert_eq!(a.groups[1].persons, 2, "persons 7 and 9 remain");
    }

    #[test]
    fn matched_when_the_remaining_edge_stays_within_one_person() {
        // As the three-person merge, but with 5–7 instead of 5–9: 7 is person 7's own record.
        let res = results(&[
            (0.5, 1, 2),
            (1.0, 4, 5),
            (1.0, 5, 6),
            (0.5, 5, 7),
            (0.5, 10, 11),
        ]);
        let c = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (4, &[3, 4]),
            (5, &[5]),
            (7, &[6, 7, 8]),
            (10, &[10]),
            (11, &[11]),
        ]);
        let expected_groups = groups(&[(&[0], false), (&[1, 2, 3], true), (&[4], false)]);

        let a = c.clone().all_counts_one().analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(a.person_actions.len(), 4, "reference: 5, 6, 7, 8 move to 4");

        // Adapted: person 7 is chosen; still one person left, so the group is matched.
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(
            actions_by_group(&a),
            [vec![(3, 4, 1, 7, 1), (4, 4, 1, 7, 1), (5, 5, 1, 7, 1)]]
        );
        assert_eq!(a.groups[1].persons, 1);
    }

    #[test]
    fn chosen_by_record_count_then_created() {
        let res = results(&[(0.5, 1, 2), (1.0, 1, 3), (0.5, 2, 4), (0.5, 5, 6)]);
        let expected_groups = groups(&[(&[0, 1, 2], false), (&[3], false)]);

        // Adapted: the reference gives person 3 record_count 2 with one listed record; here it
        // also owns record 30, which no result references and which stays with it.
        let by_count = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (3, &[3, 30]),
            (4, &[4]),
            (5, &[5]),
            (6, &[6]),
        ]);
        let a = by_count.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(actions_by_group(&a), [vec![(1, 1, 1, 3, 1)]]);
        assert_eq!(a.groups[0].key, 1);

        // Person 3 created earlier than the rest.
        let mut by_created = Crosswalk::singletons(1..=6);
        by_created.person(3).created = at(-1);
        let a = by_created.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), expected_groups);
        assert_eq!(actions_by_group(&a), [vec![(1, 1, 1, 3, 1)]]);

        // record_count beats created: person 1 has 2 records, person 3 is older.
        let mut both = Crosswalk::singletons(2..=6).with(1, &[1, 10]);
        both.person(3).created = at(-1);
        let a = both.analyze(&res, 0.9);
        assert_eq!(actions_by_group(&a), [vec![(3, 3, 1, 1, 1)]]);
    }

    #[test]
    fn matched_when_fully_auto_matched() {
        let res = results(&[(1.0, 1, 2), (0.5, 3, 4), (0.5, 5, 6)]);
        let a = Crosswalk::singletons(1..=6).analyze(&res, 0.9);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0], true), (&[1], false), (&[2], false)])
        );
        assert_eq!(actions_by_group(&a), [vec![(2, 2, 1, 1, 1)]]);
    }

    #[test]
    fn matched_when_records_already_share_a_person() {
        // The reference's FIXME: a result between two records of one person needs no action.
        let res = pending(&[(3, 4), (1, 2)]);
        let c = Crosswalk::of(&[(3, &[3, 4]), (1, &[1]), (2, &[2])]);
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), groups(&[(&[0], true), (&[1], false)]));
        assert!(a.person_actions.is_empty());
    }

    #[test]
    fn threshold_is_strict_and_versions_are_carried() {
        let res = results(&[(0.9, 1, 2), (0.95, 3, 4)]);
        let mut c = Crosswalk::singletons(1..=4);
        c.person(3).version = 7;
        c.person(4).version = 2;
        let a = c.analyze(&res, 0.9);
        assert_eq!(group_rows(&a), groups(&[(&[0], false), (&[1], true)]));
        assert_eq!(actions_by_group(&a), [vec![(4, 4, 2, 3, 7)]]);
        assert_eq!(a.person_actions[0].group, 1);

        // Threshold 1 disables auto-matching, even for probability 1.
        let a = c.analyze(&results(&[(1.0, 1, 2), (1.0, 3, 4)]), 1.0);
        assert!(a.person_actions.is_empty());
        assert!(a.groups.iter().all(|g| !g.matched));
    }

    #[test]
    fn group_key_does_not_depend_on_result_order() {
        // Person 6 also owns record 4, which no result references: it is the key of its group.
        let forward = pending(&[(5, 6), (1, 2), (2, 3), (6, 7)]);
        let mut backward = forward.clone();
        backward.reverse();
        let c = Crosswalk::of(&[
            (1, &[1]),
            (2, &[2]),
            (3, &[3]),
            (5, &[5]),
            (6, &[4, 6]),
            (7, &[7]),
        ]);
        // Each result row with its group's key.
        let row_keys = |res: &[GraphResult]| -> Vec<i64> {
            let a = c.analyze(res, 0.9);
            a.result_groups
                .iter()
                .map(|&g| a.groups[g as usize].key)
                .collect()
        };
        assert_eq!(row_keys(&forward), [4, 1, 1, 4]);
        assert_eq!(row_keys(&backward), [4, 1, 1, 4]);
        // The groups are numbered by first result, so their order follows the input.
        let a = c.analyze(&backward, 0.9);
        assert_eq!(a.groups.iter().map(|g| g.key).collect::<Vec<_>>(), [4, 1]);
        let a = c.analyze(&pending(&[(1, 2), (6, 7), (2, 3), (5, 6)]), 0.9);
        assert_eq!(a.groups.iter().map(|g| g.key).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn sparse_ids_give_the_same_analysis() {
        // Ids far apart take the hash-map path instead of the dense table.
        let scale = 1_000_000_007_i64;
        let res = results(&[(0.5, 1, 2), (1.0, 1, 3), (0.5, 2, 4), (0.5, 5, 6)]);
        let sparse_res: Vec<GraphResult> = res
            .iter()
            .map(|x| GraphResult {
                l: x.l * scale,
                r: x.r * scale,
                ..*x
            })
            .collect();
        let sparse = Crosswalk::of(&[
            (scale, &[scale]),
            (2 * scale, &[2 * scale]),
            (3 * scale, &[3 * scale, -7]),
            (4 * scale, &[4 * scale]),
            (5 * scale, &[5 * scale]),
            (6 * scale, &[6 * scale]),
        ]);
        let a = sparse.analyze(&sparse_res, 0.9);
        assert_eq!(
            group_rows(&a),
            groups(&[(&[0, 1, 2], false), (&[3], false)])
        );
        // Person 3 has two records, so record 1 moves into it.
        assert_eq!(
            actions_by_group(&a),
            [vec![(scale, scale, 1, 3 * scale, 1)]]
        );
        assert_eq!(a.groups[0].key, -7);
        assert_eq!(
            sparse.error(&results(&[(0.5, scale, 8 * scale)])),
            GraphError::MissingPerson { record: 8 * scale }
        );
        assert_eq!(
            sparse.clone().with(9, &[scale]).error(&sparse_res),
            GraphError::DuplicateRecord { record: scale }
        );
    }

    #[test]
    fn chain_of_100k_results() {
        let n = 100_000_i64;
        let res: Vec<GraphResult> = (1..n)
            .map(|id| GraphResult {
                probability: 1.0,
                l: id,
                r: id + 1,
            })
            .collect();
        let c = Crosswalk::singletons(1..=n);
        let graph = MatchGraph::new(&res, &c.persons, &c.records).expect("valid graph");
        assert_eq!(graph.groups().len(), 1);
        let a = graph.analyze(0.0);
        assert_eq!(a.groups.len(), 1);
        assert!(a.groups[0].matched);
        assert_eq!(a.groups[0].results, (n - 1) as usize);
        assert_eq!(a.person_actions.len(), (n - 1) as usize);
        assert!(a.person_actions.iter().all(|x| x.to_person == 1));
        assert_eq!(a.person_actions[0].record, 2);
        assert_eq!(a.person_actions.last().map(|x| x.record), Some(n));
    }
}
