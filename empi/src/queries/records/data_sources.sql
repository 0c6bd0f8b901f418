-- The distinct data sources of all records, sorted. A loose index scan over person_records_data_source: one
-- index probe per distinct value instead of reading every record (a plain DISTINCT reads them all).
WITH RECURSIVE sources (data_source) AS (
    (SELECT data_source FROM person_records ORDER BY data_source LIMIT 1)
    UNION ALL
    SELECT (
        SELECT r.data_source
        FROM person_records r
        WHERE r.data_source > s.data_source
        ORDER BY r.data_source
        LIMIT 1
    )
    FROM sources s
    WHERE s.data_source IS NOT NULL
)
SELECT data_source FROM sources WHERE data_source IS NOT NULL ORDER BY data_source
