-- One new person per fresh row, with the id drawn for it (see fresh_rows.sql; plus the offset $3 on the bulk path: see
-- fresh_rows_locked.sql).
INSERT INTO persons (id, uuid, created, updated, job_id, record_count) OVERRIDING SYSTEM VALUE
SELECT person_id + $3, gen_random_uuid(), $2, $2, $1, 1
FROM load_fresh f
ORDER BY f.person_id
