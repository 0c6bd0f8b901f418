-- The number of groups GET /potential-matches lists for the filters $1..$6 ($7 = any filter given): the
-- conditions of page.sql without the page.
SELECT count(*)
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
