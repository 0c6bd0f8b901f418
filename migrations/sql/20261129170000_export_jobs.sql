-- Person-record exports (the crosswalk) run as durable runs with a job, like potential-match exports: the
-- reference writes them synchronously inside the HTTP request, which times out on large databases and
-- leaves no trace. Their job type must be allowed.
ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check
    CHECK (job_type IN ('import-person-records', 'export-potential-matches', 'export-person-records'));
