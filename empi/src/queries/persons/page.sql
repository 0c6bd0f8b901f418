-- One page of GET /persons: persons with a record matching every given filter ($1..$6, $7 = any filter given),
-- ordered by the (last_name, first_name) of their first record (lowest id), NULLs last, then by that record's
-- id. $8 = LIMIT, $9 = OFFSET.
--
-- The page is found by walking person_records_name_order and keeping first records only (the anti-join
-- probes person_records_person), so without filters PostgreSQL reads about OFFSET + LIMIT records and never
-- sorts all persons. Persons reached through a record are never deleted (persons_deleted_iff_empty).
-- The data sources are aggregated for the page's persons only.
WITH page AS (
    SELECT f.id, f.person_id, f.first_name, f.last_name
    FROM person_records f
    WHERE NOT EXISTS (
            SELECT 1 FROM person_records e WHERE e.person_id = f.person_id AND e.id < f.id
        )
        AND (NOT $7 OR EXISTS (
            SELECT 1
            FROM person_records m
            JOIN persons mp ON mp.id = m.person_id
            WHERE m.person_id = f.person_id
                AND ($1::text IS NULL OR m.first_name ILIKE $1)
                AND ($2::text IS NULL OR m.last_name ILIKE $2)
                AND ($3::text IS NULL OR m.birth_date ILIKE $3)
                AND ($4::text IS NULL OR mp.uuid::text LIKE $4)
                AND ($5::text IS NULL OR m.source_person_id LIKE $5)
                AND ($6::text IS NULL OR m.data_source = $6)
        ))
    ORDER BY f.last_name, f.first_name, f.id
    LIMIT $8 OFFSET $9
)
SELECT
    p.uuid AS id,
    page.first_name,
    page.last_name,
    ARRAY(
        SELECT DISTINCT r.data_source FROM person_records r WHERE r.person_id = page.person_id ORDER BY 1
    ) AS data_sources
FROM page
JOIN persons p ON p.id = page.person_id
ORDER BY page.last_name, page.first_name, page.id
