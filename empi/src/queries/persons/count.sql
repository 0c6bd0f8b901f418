-- The number of persons GET /persons lists for the filters $1..$6 ($7 = any filter given). Without filters it
-- is the number of live persons (an index-only count over persons_active); with filters, the distinct
-- persons of the matching records, found through the filters' indexes.
SELECT CASE
    WHEN NOT $7 THEN (SELECT count(*) FROM persons WHERE deleted IS NULL)
    ELSE (
        SELECT count(DISTINCT m.person_id)
        FROM person_records m
        WHERE ($1::text IS NULL OR m.first_name ILIKE $1)
            AND ($2::text IS NULL OR m.last_name ILIKE $2)
            AND ($3::text IS NULL OR m.birth_date ILIKE $3)
            AND ($4::text IS NULL OR m.person_id IN (
                SELECT mp.id FROM persons mp WHERE mp.uuid::text LIKE $4
            ))
            AND ($5::text IS NULL OR m.source_person_id LIKE $5)
            AND ($6::text IS NULL OR m.data_source = $6)
    )
END
