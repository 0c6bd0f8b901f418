-- The staged rows of a job that become new records: the first row (by line) of each content hash, unless a
-- record with that hash exists. Numbered 1..n in line order. Dropped at commit.
CREATE TEMP TABLE load_fresh ON COMMIT DROP AS
SELECT s.id AS staging_id, row_number() OVER (ORDER BY s.line_number) AS rn
FROM (
    SELECT DISTINCT ON (sha256) id, sha256, line_number
    FROM person_record_staging
    WHERE job_id = $1
    ORDER BY sha256, line_number
) s
WHERE NOT EXISTS (SELECT 1 FROM person_records r WHERE r.sha256 = s.sha256)
