-- One page of GET /potential-matches: pending groups (neither matched nor deleted) with at least one result
-- and, when filters are given ($7), a record matching every filter ($1..$6) among the group's records.
-- $8 = LIMIT, $9 = OFFSET; ordered by group id.
--
-- A group's records (reference-behaviour.md §2.2) are all records of the persons of the records its results
-- reference, so records no result names but that share a person with one are included. Groups are walked in
-- id order through match_groups_pending; the summaries (names of the lowest record id, sorted data sources,
-- best probability) are computed for the page's groups only.
WITH page AS (
    SELECT g.id
    FROM match_groups g
    WHERE g.matched IS NULL AND g.deleted IS NULL
        AND EXISTS (SELECT 1 FROM prediction_results r WHERE r.match_group_id = g.id)
        AND (NOT $7 OR EXISTS (
            SELECT 1
            FROM prediction_results r
            CROSS JOIN LATERAL (VALUES (r.person_record_l_id), (r.person_record_r_id)) AS side (id)
            JOIN person_records x ON x.id = side.id
            JOIN person_records m ON m.person_id = x.person_id
            JOIN persons mp ON mp.id = m.person_id
            WHERE r.match_group_id = g.id
                AND ($1::text IS NULL OR m.first_name ILIKE $1)
                AND ($2::text IS NULL OR m.last_name ILIKE $2)
                AND ($3::text IS NULL OR m.birth_date ILIKE $3)
                AND ($4::text IS NULL OR mp.uuid::text LIKE $4)
                AND ($5::text IS NULL OR m.source_person_id LIKE $5)
                AND ($6::text IS NULL OR m.data_source = $6)
        ))
    ORDER BY g.id
    LIMIT $8 OFFSET $9
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
