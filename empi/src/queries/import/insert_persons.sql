-- One new person per fresh row, with the id drawn for it (see fresh_rows.sql). The bulk path writes its persons with
-- COPY instead (see import.rs).
INSERT INTO persons (id, uuid, created, updated, job_id, record_count) OVERRIDING SYSTEM VALUE
SELECT person_id, gen_random_uuid(), $2, $2, $1, 1
FROM load_fresh
ORDER BY person_id
