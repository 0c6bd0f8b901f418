-- The `add-record` action of each new record (in record order), read from the ids drawn for the fresh rows
-- (see fresh_rows.sql; plus the offsets $2 and $3 on the bulk path: see fresh_rows_locked.sql) instead of from the
-- records. Its own id is drawn from its sequence, or on the bulk path ($4 not NULL) is the k-th of a block reserved
-- like the others (k, the row's place in line order, is its record_id before the offset).
INSERT INTO person_actions (id, match_event_id, person_id, person_record_id, type) OVERRIDING SYSTEM VALUE
SELECT CASE
           WHEN $4::bigint IS NULL THEN nextval((SELECT pg_get_serial_sequence('person_actions', 'id'))::regclass)
           ELSE record_id + $4
       END,
       $1, person_id + $2, record_id + $3, 'add-record'
FROM load_fresh
ORDER BY record_id
