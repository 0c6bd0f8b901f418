-- The number of groups GET /potential-matches lists for the filters $1..$6 ($7 = any filter given): the
-- conditions of page.sql's two branches without the page.
SELECT CASE
    WHEN NOT $7 THEN (
        SELECT count(*)
        FROM match_groups g
        WHERE g.matched IS NULL AND g.deleted IS NULL
            AND EXISTS (SELECT 1 FROM prediction_results r WHERE r.match_group_id = g.id)
    )
    ELSE (
        SELECT count(DISTINCT g.id)
        FROM person_records m
        JOIN person_records x ON x.person_id = m.person_id
        CROSS JOIN LATERAL (
            SELECT r.match_group_id FROM prediction_results r WHERE r.person_record_l_id = x.id
            UNION ALL
            SELECT r.match_group_id FROM prediction_results r WHERE r.person_record_r_id = x.id
        ) AS hit
        JOIN match_groups g ON g.id = hit.match_group_id
        WHERE g.matched IS NULL AND g.deleted IS NULL
            AND ($1::text IS NULL OR m.first_name ILIKE $1)
            AND ($2::text IS NULL OR m.last_name ILIKE $2)
            AND ($3::text IS NULL OR m.birth_date ILIKE $3)
            AND ($4::text IS NULL OR m.person_id IN (
                SELECT mp.id FROM persons mp WHERE mp.uuid::text LIKE $4
            ))
            AND ($5::text IS NULL OR m.source_person_id LIKE $5)
            AND ($6::text IS NULL OR m.data_source = $6)
    )
END
