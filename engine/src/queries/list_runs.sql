SELECT id, workflow, workflow_version, status, error, idempotency_key, created_at, started_at, finished_at,
       count(*) OVER () AS total_count
FROM workflow_runs
WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC, id
LIMIT $3 OFFSET $4
