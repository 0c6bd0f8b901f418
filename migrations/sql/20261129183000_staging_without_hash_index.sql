-- No query looks staged rows up by their hash: the load step sorts a job's rows by hash to dedupe them. The
-- index only cost the stage step a random-key insert per row (a third of its time for a million rows).
DROP INDEX person_record_staging_sha256;
