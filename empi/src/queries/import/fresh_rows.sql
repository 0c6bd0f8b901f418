-- The staged rows of a job that become new records: the first row (by line) of each content hash, unless a
-- record with that hash exists. Each gets its person's id and its record's id, so that person k and record k
-- belong to the k-th fresh row in line order: record ids follow the file's order.
-- * Incremental path ($2 false): the ids are drawn from the tables' identity sequences here, in line order
--   (volatile expressions of the select list are evaluated after the ORDER BY, in its order); concurrent writers
--   of persons and records draw other values from the same sequences.
-- * Bulk path ($2 true, persons and records held exclusively): the k-th fresh row gets k, to which the load adds
--   the offset of a block it reserves from each sequence once the rows are counted (see bulk::reserve_id_block:
--   one nextval and one setval instead of two nextval calls per row; measured on a million rows, 1.6 s of this
--   statement's 3.3 s).
-- Dropped at commit.
CREATE TEMP TABLE load_fresh ON COMMIT DROP AS
SELECT f.line_number,
       CASE WHEN $2 THEN f.k ELSE nextval((SELECT pg_get_serial_sequence('persons', 'id'))::regclass) END
           AS person_id,
       CASE WHEN $2 THEN f.k ELSE nextval((SELECT pg_get_serial_sequence('person_records', 'id'))::regclass) END
           AS record_id
FROM (
    SELECT s.line_number, row_number() OVER (ORDER BY s.line_number) AS k
    FROM (
        SELECT DISTINCT ON (sha256) sha256, line_number
        FROM person_record_staging
        WHERE job_id = $1
        ORDER BY sha256, line_number
    ) s
    WHERE NOT EXISTS (SELECT 1 FROM person_records r WHERE r.sha256 = s.sha256)
) f
ORDER BY f.line_number
