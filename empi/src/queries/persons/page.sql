-- One page of GET /persons: persons with a record matching every given filter ($1..$6, $7 = any filter given),
-- ordered by the (last_name, first_name) of their first record (lowest id), NULLs last, then by that record's
-- id. $8 = LIMIT, $9 = OFFSET.
--
-- Two branches, one of which PostgreSQL's custom plan for the request drops (`NOT $7` / `$7` fold to false):
-- * no filter: walk person_records_name_order and keep first records only (the anti-join probes
--   person_records_person); it stops after OFFSET + LIMIT persons and never sorts all of them;
-- * filters: the persons of the matching records (through the filters' indexes: trigram, data source,
--   source id prefix, uuid prefix), then each one's first record; only those persons are sorted.
-- Persons reached through a record are never deleted (persons_deleted_iff_empty). The data sources are
-- aggregated for the page's persons only.
WITH page AS (
    (
        SELECT f.id, f.person_id, f.first_name, f.last_name
        FROM person_records f
        WHERE NOT $7
            AND NOT EXISTS (
                SELECT 1 FROM person_records e WHERE e.person_id = f.person_id AND e.id < f.id
            )
        ORDER BY f.last_name, f.first_name, f.id
        LIMIT $8 OFFSET $9
    )
    UNION ALL
    (
        SELECT f.id, f.person_id, f.first_name, f.last_name
        FROM (
            SELECT DISTINCT m.person_id
            FROM person_records m
            WHERE $7
                AND ($1::text IS NULL OR m.first_name ILIKE $1)
                AND ($2::text IS NULL OR m.last_name ILIKE $2)
                AND ($3::text IS NULL OR m.birth_date ILIKE $3)
                AND ($4::text IS NULL OR m.person_id IN (
                    SELECT mp.id FROM persons mp WHERE mp.uuid::text LIKE $4
                ))
                AND ($5::text IS NULL OR m.source_person_id LIKE $5)
                AND ($6::text IS NULL OR m.data_source = $6)
        ) AS hit
        CROSS JOIN LATERAL (
            SELECT r.id, r.person_id, r.first_name, r.last_name
            FROM person_records r
            WHERE r.person_id = hit.person_id
            ORDER BY r.id
            LIMIT 1
        ) AS f
        ORDER BY f.last_name, f.first_name, f.id
        LIMIT $8 OFFSET $9
    )
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
