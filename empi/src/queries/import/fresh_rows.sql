-- The staged rows of a job that become new records: the first row (by line) of each content hash, unless a
-- record with that hash exists. Each gets its person's id and its record's id from the tables' identity
-- sequences here, in line order (volatile expressions of the select list are evaluated after the ORDER BY,
-- in its order), so that person k and record k belong to the k-th fresh row: record ids follow the file's
-- order. Concurrent writers of persons and records draw other values from the same sequences. Dropped at
-- commit.
CREATE TEMP TABLE load_fresh ON COMMIT DROP AS
SELECT s.line_number,
       nextval((SELECT pg_get_serial_sequence('persons', 'id'))::regclass) AS person_id,
       nextval((SELECT pg_get_serial_sequence('person_records', 'id'))::regclass) AS record_id
FROM (
    SELECT DISTINCT ON (sha256) sha256, line_number
    FROM person_record_staging
    WHERE job_id = $1
    ORDER BY sha256, line_number
) s
WHERE NOT EXISTS (SELECT 1 FROM person_records r WHERE r.sha256 = s.sha256)
ORDER BY s.line_number
