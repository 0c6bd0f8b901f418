-- What the durable import run needs beyond the reference's tables.

-- Files uploaded with an import request, kept until the job finishes so that a resumed run reads them
-- again without the client uploading anything (and any worker process, on any host, can read them).
CREATE TABLE import_upload_chunks (
    job_id bigint  NOT NULL REFERENCES jobs (id),
    seq    integer NOT NULL CHECK (seq >= 0),
    data   bytea   NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Pairs scored by a run's score step, waiting for its match step. The score step replaces the job's rows
-- in one transaction (so a re-run after a crash stores them once); the match step moves them into
-- prediction_results with their groups, in the transaction that applies the auto-matches, and deletes
-- them. Logged on purpose: an unlogged table would be emptied by a database crash between the two steps.
CREATE TABLE prediction_result_staging (
    job_id             bigint           NOT NULL REFERENCES jobs (id),
    person_record_l_id bigint           NOT NULL,
    person_record_r_id bigint           NOT NULL,
    match_weight       double precision NOT NULL,
    match_probability  double precision NOT NULL CHECK (match_probability BETWEEN 0 AND 1),
    data               jsonb            NOT NULL,
    PRIMARY KEY (job_id, person_record_l_id, person_record_r_id),
    CONSTRAINT prediction_result_staging_ordered_pair CHECK (person_record_l_id < person_record_r_id)
);

-- The comparator plugins (name, version, file hash, functions) the run scored with, so that a result can
-- be traced to the code that produced it. Empty when only built-in functions were loaded.
ALTER TABLE jobs ADD COLUMN plugins jsonb NOT NULL DEFAULT '[]';
