-- The `add-record` action of each new record (in record order), read from the ids drawn for the fresh rows
-- (see fresh_rows.sql; plus the offsets $2 and $3 on the bulk path: see fresh_rows_locked.sql) instead of from the
-- records.
INSERT INTO person_actions (match_event_id, person_id, person_record_id, type)
SELECT $1, person_id + $2, record_id + $3, 'add-record'
FROM load_fresh
ORDER BY record_id
