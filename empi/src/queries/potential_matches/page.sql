-- One page of GET /potential-matches: pending groups (neither matched nor deleted) with at least one result
-- and, when filters are given ($7), a record matching every filter ($1..$6) among the group's records.
-- $8 = LIMIT, $9 = OFFSET; ordered by group id.
--
-- A group's records (reference-behaviour.md §2.2) are all records of the persons of the records its results
-- reference, so records no result names but that share a person with one are included. As in
-- persons/page.sql, the custom plan keeps one of two branches:
-- * no filter: walk match_groups_pending in id order, stopping after the page;
-- * filters: from the matching records (through the filters' indexes) to their persons' records, to the
--   results naming them (person_records_l via the pair index, person_record_r via prediction_results_r),
--   to their pending groups; only those group ids are sorted.
-- The summaries (names of the lowest record id, sorted data sources, best probability) are computed for the
-- page's groups only.
WITH page AS (
    (
        SELECT g.id
        FROM match_groups g
        WHERE NOT $7
            AND g.matched IS NULL AND g.deleted IS NULL
            AND EXISTS (SELECT 1 FROM prediction_results r WHERE r.match_group_id = g.id)
        ORDER BY g.id
        LIMIT $8 OFFSET $9
    )
    UNION ALL
    (
        SELECT DISTINCT g.id
        FROM person_records m
        JOIN person_records x ON x.person_id = m.person_id
        CROSS JOIN LATERAL (
            SELECT r.match_group_id FROM prediction_results r WHERE r.person_record_l_id = x.id
            UNION ALL
            SELECT r.match_group_id FROM prediction_results r WHERE r.person_record_r_id = x.id
        ) AS hit
        JOIN match_groups g ON g.id = hit.match_group_id
        WHERE $7
            AND g.matched IS NULL AND g.deleted IS NULL
            AND ($1::text IS NULL OR m.first_name ILIKE $1)
            AND ($2::text IS NULL OR m.last_name ILIKE $2)
            AND ($3::text IS NULL OR m.birth_date ILIKE $3)
            AND ($4::text IS NULL OR m.person_id IN (
                SELECT mp.id FROM persons mp WHERE mp.uuid::text LIKE $4
            ))
            AND ($5::text IS NULL OR m.source_person_id LIKE $5)
            AND ($6::text IS NULL OR m.data_source = $6)
        ORDER BY g.id
        LIMIT $8 OFFSET $9
    )
)
SELECT
    page.id,
    recs.first_name,
    recs.last_name,
    recs.data_sources,
    best.max_match_probability
FROM page
CROSS JOIN LATERAL (
    SELECT max(r.match_probability) AS max_match_probability
    FROM prediction_results r
    WHERE r.match_group_id = page.id
) AS best
CROSS JOIN LATERAL (
    SELECT
        (array_agg(m.first_name ORDER BY m.id))[1] AS first_name,
        (array_agg(m.last_name ORDER BY m.id))[1] AS last_name,
        array_agg(DISTINCT m.data_source ORDER BY m.data_source) AS data_sources
    FROM person_records m
    WHERE m.person_id IN (
        SELECT x.person_id
        FROM prediction_results r
        CROSS JOIN LATERAL (VALUES (r.person_record_l_id), (r.person_record_r_id)) AS side (id)
        JOIN person_records x ON x.id = side.id
        WHERE r.match_group_id = page.id
    )
) AS recs
ORDER BY page.id
