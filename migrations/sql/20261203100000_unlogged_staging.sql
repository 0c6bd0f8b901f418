-- Staged rows are a run's scratch data, and every one of them can be made again from what is logged: staged records
-- from the job's source (kept until the run finishes), staged results by scoring the job's records again. Unlogged,
-- they are written without WAL (measured at the first import of a million records, on the same machine: the stage
-- step took 2.4 s instead of 3.2 s and the score step 5.4 s instead of 7.0 s), but a crash of the database server
-- empties them (crash recovery resets unlogged tables, and a promoted streaming replica has them empty). So the steps
-- that read them compare what they find with what the step before staged (its output) and stage or score the job
-- again when rows are missing (see the load and match steps of the import workflow).
ALTER TABLE person_record_staging SET UNLOGGED;
ALTER TABLE prediction_result_staging SET UNLOGGED;
