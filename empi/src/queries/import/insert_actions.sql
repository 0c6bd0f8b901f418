-- The `add-record` action of each new record (in record order), read from the ids drawn for the fresh rows
-- (see fresh_rows.sql) instead of from the records. The bulk path writes its actions with COPY instead (see
-- import.rs).
INSERT INTO person_actions (match_event_id, person_id, person_record_id, type)
SELECT $1, person_id, record_id, 'add-record'
FROM load_fresh
ORDER BY record_id
